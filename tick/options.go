package tick

import (
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Option configures a [Job]; pass options to [Every] or [Cron]. Options are
// plain values that may be shared between jobs. A nil Option is ignored.
type Option func(*config)

// config is a Job's configuration. Its zero value means all defaults.
type config struct {
	locker      Locker
	timeout     time.Duration // 0: no per-run timeout
	jitter      time.Duration // 0: none
	startJitter time.Duration // 0: none
	policy      ErrorPolicy
	logger      *slog.Logger         // nil: slog.Default() at construction
	mp          metric.MeterProvider // nil: otel.GetMeterProvider() at construction
}

// ErrorPolicy says what a [Job] does after a failed run. The zero value is
// [Continue].
type ErrorPolicy uint8

const (
	// Continue keeps the schedule: the next run happens at the next tick,
	// as if the run had succeeded. It is the default.
	Continue ErrorPolicy = iota
	// BackOff spaces runs out while they keep failing: after n consecutive
	// failures the job waits 2^(n-1) ticks before the next run (1, 2, 4, 8,
	// then 16 at most), counting the ticks it passes over as skipped with
	// reason "backoff". The first success restores the schedule. The ticks
	// stay those of the schedule, so backing off never causes drift.
	BackOff
	// Stop makes [Job.Run] return the failed run's error. Under
	// lifecycle.Run that shuts the service down, so keep it for jobs the
	// service cannot live without.
	Stop
)

// maxBackoffTicks is the longest gap, in ticks, that BackOff leaves
// between two runs.
const maxBackoffTicks = 16

// String returns "continue", "backoff" or "stop".
func (p ErrorPolicy) String() string {
	switch p {
	case Continue:
		return "continue"
	case BackOff:
		return "backoff"
	case Stop:
		return "stop"
	}
	return fmt.Sprintf("ErrorPolicy(%d)", uint8(p))
}

// OnError sets what the job does after a failed run: [Continue] (the
// default), [BackOff] or [Stop]. A run fails when fn returns an error or
// panics (including the error it returns after its context ended because
// of its [Timeout] or a lost lease), or when the lock cannot be asked for
// (the lock service is unreachable). A run whose fn returns nil succeeded,
// even if its lease was lost meanwhile. A run ended by the cancellation of
// Run's context is neither. A tick passed over because another replica
// holds the lock is not a failure.
// Panics if p is not one of the three policies.
func OnError(p ErrorPolicy) Option {
	if p > Stop {
		panic(fmt.Sprintf("tick.OnError: unknown policy %d; use tick.Continue, tick.BackOff or tick.Stop", uint8(p)))
	}
	return func(c *config) { c.policy = p }
}

// Timeout bounds each run to d: fn's context carries a deadline d after the
// run starts (measured on the real clock), and the context's cause is
// [ErrTimeout]. fn must return once its context is done; the job waits for
// it however long it takes, so a run never overlaps the next. Zero, the
// default, means no per-run timeout: only cancelling Run's context, or
// losing the lease, ends a run early. Panics if d is negative.
func Timeout(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("tick.Timeout: d is %v; pass a positive duration, or omit the option for no per-run timeout", d))
	}
	return func(c *config) { c.timeout = d }
}

// Jitter delays each run, the first included, by a random duration in
// [0, d) after its tick, so that replicas (or jobs) on the same schedule do
// not hit a shared dependency at the same instant. The ticks themselves do
// not move: jitter never accumulates into drift. Zero, the default, means
// no jitter. Panics if d is negative; [Every] also panics if d is not
// shorter than its interval. With [Cron], a jitter longer than the gap
// between two activations makes the next activation count as skipped.
func Jitter(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("tick.Jitter: d is %v; pass a positive duration, or omit the option for no jitter", d))
	}
	return func(c *config) { c.jitter = d }
}

// StartJitter shifts the whole schedule of an [Every] job by a random
// duration in [0, d), drawn once when Run starts: the first run happens
// that long after Run starts, and every later tick keeps the same phase.
// Replicas started together by a deployment then spread over the interval
// for good. For a [Cron] job it delays only the point from which the first
// activation is looked for. Zero, the default, runs the first tick of an
// Every job as soon as Run starts. Panics if d is negative.
func StartJitter(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("tick.StartJitter: d is %v; pass a positive duration, or omit the option to start at once", d))
	}
	return func(c *config) { c.startJitter = d }
}

// WithLock makes the job take a lease from l before each run and skip the
// tick when another holder has it, so that at most one replica runs the job
// at a time (see the package doc's "Singleton jobs" section). A nil l, like
// omitting the option, means no lock: every replica runs every tick.
func WithLock(l Locker) Option {
	return func(c *config) { c.locker = l }
}

// WithLogger sets the logger that records failed runs (at Error), skipped
// ticks (at Warn) and lease releases that failed (at Warn). A nil logger,
// like omitting the option, means slog.Default() at the time the job is
// built.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithMeterProvider sets the provider of the meter that records the job's
// metrics (see the package doc). A nil mp, like omitting the option, means
// otel.GetMeterProvider() at the time the job is built.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}
