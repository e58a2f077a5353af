package health

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/chassis-go/chassis/internal/panicval"
)

// scope is the OpenTelemetry instrumentation scope of the package's metrics.
const scope = "github.com/chassis-go/chassis/health"

// DefaultTimeout is how long a check may run when neither [Timeout] nor
// [DefaultCheckTimeout] says otherwise.
const DefaultTimeout = 2 * time.Second

// ErrTimeout is matched (with errors.Is) by [CheckResult.Err] when a check did
// not return within its timeout. The same error also matches
// context.DeadlineExceeded. The check's goroutine may still be running; see
// [ErrStillRunning].
var ErrTimeout = errors.New("health: check timed out")

// ErrStillRunning is matched by [CheckResult.Err] when the previous run of a
// check, which had timed out, has still not returned when a new run starts.
// The check is not started a second time (so a check that ignores its context
// costs at most one goroutine) and is reported down.
var ErrStillRunning = errors.New("health: check still running from a previous run")

// PanicError is the [CheckResult.Err] of a check that panicked. The panic is
// recovered on the check's goroutine so that a broken check makes the service
// look unhealthy instead of crashing it.
type PanicError struct {
	// Value is the value the check passed to panic.
	Value any
	// Stack is the check goroutine's stack at the panic, as formatted by
	// runtime/debug.Stack. It is not part of Error, so it never reaches a
	// readiness response.
	Stack []byte
}

// Error returns one line, "health: check panic: VALUE", without the stack.
// VALUE is bounded to about 1 KiB and never formatted by recursing into the
// value, so a huge or self-referencing panic value is safe to log and to
// show in a readiness response.
func (e *PanicError) Error() string { return "health: check panic: " + panicval.String(e.Value) }

// Unwrap returns Value if it is an error, so errors.Is and errors.As see
// through a panic(err); otherwise nil.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Check reports whether one dependency is usable: nil means healthy. It must
// return promptly once ctx is done; ctx carries the check's timeout. A Check
// may be called concurrently with itself only if it was added to more than one
// Checker, never by one Checker.
type Check func(ctx context.Context) error

// Status is the health of one check or of a whole [Report]. The zero Status
// is StatusUnknown, which every consumer must treat as "not up".
type Status uint8

const (
	// StatusUnknown means the status was never determined, for example
	// because the caller's context ended before the run finished.
	StatusUnknown Status = iota
	// StatusDown means the check failed, timed out or panicked, or, for a
	// Report, that a critical check is down or the Checker is draining.
	StatusDown
	// StatusUp means the check returned nil within its timeout, or, for a
	// Report, that every critical check is up.
	StatusUp
)

// String returns "unknown", "down" or "up" ("unknown" for any value out of
// range).
func (s Status) String() string {
	switch s {
	case StatusUp:
		return "up"
	case StatusDown:
		return "down"
	default:
		return "unknown"
	}
}

// MarshalText encodes s as its String.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// CheckResult is the outcome of one check in one run.
type CheckResult struct {
	// Name is the name the check was added under.
	Name string
	// Status is StatusUp or StatusDown.
	Status Status
	// Critical is false for checks added with [NonCritical].
	Critical bool
	// Err is nil when Status is StatusUp. Otherwise it is the check's error,
	// an error matching [ErrTimeout] or [ErrStillRunning], or a *[PanicError].
	Err error
	// Duration is how long the check ran, per the Checker's clock. For a
	// timed-out check it is the time until the Checker gave up waiting; for
	// [ErrStillRunning] it is zero.
	Duration time.Duration
}

// Report is the outcome of one run of a Checker's checks.
type Report struct {
	// Status is StatusUp when every critical check is up (non-critical
	// checks may be down), StatusDown when a critical check is down or the
	// Checker is draining, and StatusUnknown when the caller's context ended
	// before the run finished.
	Status Status
	// Draining reports whether the Checker was draining ([Checker.SetDraining]).
	// A draining report has Status StatusDown and no Checks: the checks are
	// not run once the service is shutting down.
	Draining bool
	// Checks holds one result per check, sorted by name. The slice belongs
	// to the caller.
	Checks []CheckResult
}

// Option configures a Checker; pass options to [New]. A nil Option is
// ignored.
type Option func(*Checker)

// CacheTTL makes the Checker reuse a finished run's Report for d, per its
// clock, so that frequent probes from several load balancers do not hammer
// the dependencies. Zero, the default, disables the cache. Whatever the TTL,
// calls that arrive while a run is in progress share that run. Panics if d is
// negative.
func CacheTTL(d time.Duration) Option {
	if d < 0 {
		panic("health.CacheTTL: negative duration; use 0 to disable the cache")
	}
	return func(c *Checker) { c.ttl = d }
}

// DefaultCheckTimeout sets the timeout of checks added without [Timeout].
// The default is [DefaultTimeout] (2s). Panics if d is not positive.
func DefaultCheckTimeout(d time.Duration) Option {
	if d <= 0 {
		panic("health.DefaultCheckTimeout: duration must be positive; omit the option for the 2s default")
	}
	return func(c *Checker) { c.timeout = d }
}

// WithClock sets the clock used for check durations and the cache TTL; the
// default, also for a nil now, is time.Now. Check timeouts are context
// deadlines and always use the real clock.
func WithClock(now func() time.Time) Option {
	return func(c *Checker) {
		if now != nil {
			c.now = now
		}
	}
}

// WithMeterProvider sets where the chassis.health.check.duration histogram
// is created; the default, also for a nil mp, is otel.GetMeterProvider() at
// the time of [New].
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *Checker) { c.mp = mp }
}

// CheckOption configures one check; pass options to [Checker.Add]. A nil
// CheckOption is ignored.
type CheckOption func(*entry)

// Timeout bounds one run of the check to d instead of the Checker's default
// (2s unless [DefaultCheckTimeout] says otherwise). Panics if d is not
// positive.
func Timeout(d time.Duration) CheckOption {
	if d <= 0 {
		panic("health.Timeout: duration must be positive; omit the option for the Checker's default")
	}
	return func(e *entry) { e.timeout = d }
}

// NonCritical marks a check whose failure is reported but does not make the
// service unready: the Report (and the readiness response) stays up, with
// this check down. Use it for dependencies the service can degrade without,
// such as a cache.
func NonCritical() CheckOption {
	return func(e *entry) { e.critical = false }
}

// entry is one added check.
type entry struct {
	name     string
	check    Check
	timeout  time.Duration
	critical bool
	// running is true from the start of a check call until it returns,
	// which may be after the run that started it gave up on it.
	running atomic.Bool
	// up and down are the precomputed metric attributes.
	up, down metric.RecordOption
}

// flight is one run of all checks, shared by the Run calls that arrive while
// it is in progress.
type flight struct {
	done   chan struct{}
	report Report // written before done is closed
}

// Checker runs named checks and aggregates their results for readiness
// probes. Create one with [New]; the zero Checker is not usable. A Checker
// is safe for concurrent use: checks may be added while handlers are serving,
// and take part from the next run on. A Checker is meant to live as long as
// the service.
type Checker struct {
	now      func() time.Time
	ttl      time.Duration
	timeout  time.Duration
	mp       metric.MeterProvider
	duration metric.Float64Histogram

	draining atomic.Bool

	mu       sync.Mutex
	entries  []*entry // sorted by name
	inflight *flight
	cached   *Report // last finished run, when ttl > 0
	cachedAt time.Time
}

// New returns a Checker with no checks; add them with [Checker.Add]. A
// Checker with no checks reports up.
func New(opts ...Option) *Checker {
	c := &Checker{now: time.Now, timeout: DefaultTimeout}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	h, err := c.mp.Meter(scope).Float64Histogram("chassis.health.check.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of health check runs."),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
	)
	if err != nil {
		otel.Handle(err)
		h, _ = noop.NewMeterProvider().Meter(scope).Float64Histogram("chassis.health.check.duration")
	}
	c.duration = h
	return c
}

// Add registers check under name. By default a check is critical and has the
// Checker's timeout; see [Timeout] and [NonCritical]. The name is reported in
// results and used as the chassis.check metric attribute, so it must come
// from a small fixed set (e.g. "postgres", "redis"), never from user input.
// Panics if name is empty or already added, or if check is nil.
func (c *Checker) Add(name string, check Check, opts ...CheckOption) {
	if name == "" {
		panic("health.Checker.Add: empty name; give every check a short unique name")
	}
	if check == nil {
		panic(fmt.Sprintf("health.Checker.Add: check %q is nil; pass a non-nil Check", name))
	}
	e := &entry{name: name, check: check, timeout: c.timeout, critical: true}
	for _, o := range opts {
		if o != nil {
			o(e)
		}
	}
	e.up = metric.WithAttributeSet(attribute.NewSet(
		attribute.String("chassis.check", name), attribute.String("chassis.check.status", "up")))
	e.down = metric.WithAttributeSet(attribute.NewSet(
		attribute.String("chassis.check", name), attribute.String("chassis.check.status", "down")))

	c.mu.Lock()
	defer c.mu.Unlock()
	i, found := slices.BinarySearchFunc(c.entries, name, func(e *entry, n string) int {
		switch {
		case e.name < n:
			return -1
		case e.name > n:
			return 1
		}
		return 0
	})
	if found {
		panic(fmt.Sprintf("health.Checker.Add: duplicate check name %q; names must be unique", name))
	}
	// Copy on write: runs in progress keep the slice they started with.
	c.entries = slices.Insert(slices.Clip(c.entries), i, e)
	c.cached = nil
}

// SetDraining marks the service as shutting down: from now on every Report
// (and so the readiness handler) is down with Draining set, without running
// the checks, while the liveness handler stays up. Call it first thing on
// shutdown, before the drain delay, so load balancers stop sending traffic
// (lifecycle.BeforeShutdown(checker.SetDraining) does). There is no way
// back. It is idempotent and safe to call from any goroutine.
func (c *Checker) SetDraining() { c.draining.Store(true) }

// Draining reports whether [Checker.SetDraining] has been called.
func (c *Checker) Draining() bool { return c.draining.Load() }

// Run runs every check in parallel, each under its own timeout, and returns
// the aggregated Report. Calls made while a run is in progress wait for that
// run instead of starting another, and with [CacheTTL] a finished run is
// reused for the TTL.
//
// If the Checker is draining, Run returns a draining Report at once. If ctx
// ends before the run finishes, Run returns a Report with Status
// StatusUnknown and no Checks; the run itself is not cancelled by ctx (other
// callers may be waiting for it) and its goroutines exit once every check has
// returned or timed out. The checks' contexts carry ctx's values, not its
// cancellation.
//
// A check that ignores its context is reported as timed out ([ErrTimeout])
// at its deadline and keeps its goroutine until it returns; until then later
// runs report it down with [ErrStillRunning] instead of starting it again, so
// each check holds at most one goroutine. A panicking check is reported down
// with a *[PanicError].
func (c *Checker) Run(ctx context.Context) Report {
	if c.draining.Load() {
		return Report{Status: StatusDown, Draining: true}
	}
	if ctx.Err() != nil {
		return Report{}
	}
	c.mu.Lock()
	if c.cached != nil {
		if age := c.now().Sub(c.cachedAt); age >= 0 && age < c.ttl {
			r := *c.cached
			c.mu.Unlock()
			r.Checks = slices.Clone(r.Checks)
			return r
		}
		c.cached = nil
	}
	f := c.inflight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.inflight = f
		go c.execute(context.WithoutCancel(ctx), f, c.entries)
	}
	c.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		return Report{}
	}
	if c.draining.Load() {
		return Report{Status: StatusDown, Draining: true}
	}
	r := f.report
	r.Checks = slices.Clone(r.Checks)
	return r
}

// execute runs one flight and publishes its report.
func (c *Checker) execute(ctx context.Context, f *flight, entries []*entry) {
	r := c.runChecks(ctx, entries)
	c.mu.Lock()
	f.report = r
	c.inflight = nil
	if c.ttl > 0 {
		c.cached = &f.report
		c.cachedAt = c.now()
	}
	c.mu.Unlock()
	close(f.done)
}

// outcome is what a check goroutine hands back.
type outcome struct {
	err error
	end time.Time
}

// pending is a started check the run is waiting for.
type pending struct {
	ctx    context.Context
	cancel context.CancelFunc
	out    chan outcome
	start  time.Time
}

// runChecks starts every check, waits for each to return or time out, and
// aggregates the results.
func (c *Checker) runChecks(ctx context.Context, entries []*entry) Report {
	results := make([]CheckResult, len(entries))
	ps := make([]pending, len(entries))
	for i, e := range entries {
		results[i] = CheckResult{Name: e.name, Critical: e.critical, Status: StatusDown}
		if !e.running.CompareAndSwap(false, true) {
			results[i].Err = ErrStillRunning
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, e.timeout)
		p := pending{ctx: cctx, cancel: cancel, out: make(chan outcome, 1), start: c.now()}
		ps[i] = p
		go func() {
			o := outcome{err: errGoexit}
			defer func() {
				o.end = c.now()
				e.running.Store(false) // before the send: a later run must not see it running
				p.out <- o
			}()
			o.err = call(cctx, e.check)
		}()
	}

	status := StatusUp
	for i, e := range entries {
		p := ps[i]
		res := &results[i]
		if p.out != nil {
			var o outcome
			select {
			case o = <-p.out:
			case <-p.ctx.Done():
				select {
				case o = <-p.out: // returned just in time: prefer its answer
				default:
					o = outcome{err: timeoutError(e.timeout), end: c.now()}
				}
			}
			p.cancel()
			res.Duration = max(o.end.Sub(p.start), 0)
			res.Err = o.err
			if o.err != nil && errors.Is(o.err, context.DeadlineExceeded) && !errors.Is(o.err, ErrTimeout) && p.ctx.Err() != nil {
				res.Err = fmt.Errorf("%w after %v: %w", ErrTimeout, e.timeout, o.err)
			}
			if res.Err == nil {
				res.Status = StatusUp
			}
			opt := e.down
			if res.Status == StatusUp {
				opt = e.up
			}
			c.duration.Record(ctx, res.Duration.Seconds(), opt)
		}
		if res.Status != StatusUp && e.critical {
			status = StatusDown
		}
	}
	return Report{Status: status, Checks: results}
}

// timeoutError is the error of a check that did not return within d.
func timeoutError(d time.Duration) error {
	return fmt.Errorf("%w after %v: %w", ErrTimeout, d, context.DeadlineExceeded)
}

// errGoexit is the error of a check that called runtime.Goexit (for
// example through t.FailNow in a test).
var errGoexit = errors.New("health: check called runtime.Goexit")

// call runs check, turning a panic into a *PanicError.
func call(ctx context.Context, check Check) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return check(ctx)
}
