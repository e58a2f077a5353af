package work

import (
	"fmt"
	"runtime"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// An Option configures one call to [Map], [All] or [Stream]. Options are
// plain values: one Option may be reused across calls and goroutines. A nil
// Option is ignored. [Race] takes no options (see its doc).
type Option func(*config)

// config is the per-call configuration. Its zero value means all defaults.
type config struct {
	workers  int // 0: GOMAXPROCS at call time
	window   int // 0: the worker count
	failFast bool
	ordered  bool
	tp       trace.TracerProvider // nil: otel.GetTracerProvider()
	mp       metric.MeterProvider // nil: otel.GetMeterProvider()
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// poolSize returns the configured number of workers.
func (c *config) poolSize() int {
	if c.workers == 0 {
		return runtime.GOMAXPROCS(0)
	}
	return c.workers
}

// Workers bounds the number of items processed at the same time to n. The
// default is runtime.GOMAXPROCS(0), read at each call; for I/O-bound work a
// larger n is usually what you want. Map and All run min(n, len(items))
// workers, the calling goroutine being one of them; Stream starts n
// goroutines, plus one to reorder results when [Ordered]. Race ignores it.
//
// Panics if n < 1: there is no "unlimited" setting; pass len(items) for one
// worker per item.
func Workers(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("work.Workers: n is %d; pass n >= 1, or omit the option for GOMAXPROCS workers", n))
	}
	return func(c *config) { c.workers = n }
}

// FailFast makes [Map] and [All] stop at the first failure: the context
// passed to running items is cancelled (its [context.Cause] is the returned
// *[ItemError]), items not yet started never start, and the call returns that
// first failure alone instead of an *[Errors]. It has no effect on [Stream],
// whose consumer sees each failure as it happens and stops the stream by
// cancelling its context.
func FailFast() Option {
	return func(c *config) { c.failFast = true }
}

// Ordered makes [Stream] emit results in input order instead of completion
// order. Items still run concurrently; a result that completes early waits in
// a reorder buffer bounded by the window (see [Window]), and while the buffer
// is full no further input is read. It has no effect on [Map] and [All], whose
// results are always in input order.
func Ordered() Option {
	return func(c *config) { c.ordered = true }
}

// Window sets the reorder window of an [Ordered] [Stream]: at most n items
// may have been read from the input and not yet delivered to the consumer.
// The default is the worker count. A window smaller than the worker count
// also bounds concurrency to n; a larger one lets workers run ahead of a slow
// head-of-line item, at the cost of buffering up to n results. It has no
// effect without Ordered.
//
// Panics if n < 1.
func Window(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("work.Window: n is %d; pass n >= 1, or omit the option to use the worker count", n))
	}
	return func(c *config) { c.window = n }
}

// WithTracerProvider sets the provider of the tracer that records the call
// span (work.Map, work.All, work.Stream) and its item spans. A nil tp, like
// omitting the option, means otel.GetTracerProvider() at call time.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets the provider of the meter that records the
// chassis.work.inflight metric. A nil mp, like omitting the option, means
// otel.GetMeterProvider() at call time.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}
