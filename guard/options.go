package guard

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Options follow the rules of CONTRIBUTING.md: what a middleware uses (its
// logger, meter provider, clock) is an option named after the dependency;
// options of different constructors have different types, so an option
// given to the wrong constructor is a compile error; a nil option is
// ignored; and a nil value given to an option means the default.

// TimeoutOption configures [Timeout]. [WithLogger] and [WithMeterProvider]
// return one.
type TimeoutOption interface {
	applyTimeout(*timeoutOptions)
}

// MaxBodyOption configures [MaxBody]. [WithMeterProvider] returns one.
type MaxBodyOption interface {
	applyMaxBody(*maxBodyOptions)
}

// MemoryOption configures [NewMemoryLimiter]. [MaxKeys], [WithClock] and
// [WithMeterProvider] return one.
type MemoryOption interface {
	applyMemory(*memoryConfig)
}

// Option is an option that several guard constructors accept: it is a
// [TimeoutOption], a [MaxBodyOption] and a [MemoryOption]. A nil Option is
// ignored.
type Option func(*sharedOptions)

// sharedOptions are the settings of an Option.
type sharedOptions struct {
	mp metric.MeterProvider
}

func (o Option) applyTimeout(c *timeoutOptions) {
	if o != nil {
		o(&c.sharedOptions)
	}
}

func (o Option) applyMaxBody(c *maxBodyOptions) {
	if o != nil {
		o(&c.sharedOptions)
	}
}

func (o Option) applyMemory(c *memoryConfig) {
	if o != nil {
		o(&c.sharedOptions)
	}
}

// WithMeterProvider sets the MeterProvider a guard middleware or limiter
// creates its instruments with. A nil mp, like leaving the option out,
// means otel.GetMeterProvider() at the time the constructor runs.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *sharedOptions) { o.mp = mp }
}

// timeoutOption is an option only [Timeout] accepts.
type timeoutOption func(*timeoutOptions)

func (o timeoutOption) applyTimeout(c *timeoutOptions) {
	if o != nil {
		o(c)
	}
}

type timeoutOptions struct {
	sharedOptions
	logger *slog.Logger
}

// WithLogger sets the logger [Timeout] reports a panic with when the
// handler panicked after Timeout stopped waiting for it. A nil l, like
// leaving the option out, means slog.Default() at the time of the panic.
func WithLogger(l *slog.Logger) TimeoutOption {
	return timeoutOption(func(o *timeoutOptions) { o.logger = l })
}

type maxBodyOptions struct {
	sharedOptions
}

// memoryOption is an option only [NewMemoryLimiter] accepts.
type memoryOption func(*memoryConfig)

func (o memoryOption) applyMemory(c *memoryConfig) {
	if o != nil {
		o(c)
	}
}

type memoryConfig struct {
	sharedOptions
	maxKeys int
	now     func() time.Time
}

// MaxKeys sets the most keys the limiter tracks; the default is
// [DefaultMaxKeys]. [NewMemoryLimiter] panics if n < 1.
func MaxKeys(n int) MemoryOption {
	return memoryOption(func(c *memoryConfig) { c.maxKeys = n })
}

// WithClock makes the limiter read the time from now instead of time.Now.
// now must be safe for concurrent use. A nil now, like leaving the option
// out, means time.Now.
//
// time.Now's monotonic reading never goes back; an injected clock might, so
// the limiter treats a reading earlier than the latest it has seen as the
// latest: time stands still until the clock catches up. A clock that steps
// back therefore never grants extra admissions (a step forward, on the
// other hand, replenishes every key, as elapsed time does).
func WithClock(now func() time.Time) MemoryOption {
	return memoryOption(func(c *memoryConfig) { c.now = now })
}
