// Package work provides structured concurrency that never leaks: run a
// function over a slice ([Map]), a list of tasks ([All]), the first success
// among alternatives ([Race]) or a channel of items ([Stream]), with a bounded
// number of workers, errors reported per item, panics recovered and
// cancellation honoured at every step.
//
// It differs from [golang.org/x/sync/errgroup] in four ways: results come
// back in input order; every failure is reported with its index (an
// *[Errors]) unless [FailFast] asks for errgroup's first-error behaviour; a
// panic becomes an error (*[PanicError]) instead of crashing the process; and
// a fixed pool of workers pulls items instead of one goroutine per item.
//
//	pages, err := work.Map(ctx, urls, fetch, work.Workers(16))
//	var errs *work.Errors
//	if errors.As(err, &errs) {
//		for _, e := range errs.Errs {
//			log.Printf("%s: %v", urls[e.Index], e.Err) // pages[e.Index] is the zero value
//		}
//	}
//
// # Cancellation
//
// Every entry point checks ctx first and does nothing if it is already done.
// [Map] and [All] return only after every function they started has
// returned, so nothing they start outlives them; items they never started
// report ctx.Err(). [Race] returns as soon as it has a winner and lets the
// losers finish in the background, after cancelling their context. [Stream]
// returns a channel that the caller must drain or abandon by cancelling ctx;
// either way every goroutine exits, even if the producer never closes its
// input. Each function's doc spells out its contract.
//
// # Options
//
// [Workers] bounds concurrency (default GOMAXPROCS). [FailFast] stops Map and
// All at the first failure. [Ordered] and [Window] make Stream emit in input
// order. [WithTracerProvider] and [WithMeterProvider] override the global
// OpenTelemetry providers. A nil Option is ignored, so options can be chosen
// conditionally, and a nil provider means the global one; [Workers] and
// [Window] panic on a value below 1, naming it and the fix. If the meter
// provider cannot create the inflight counter, the error goes to otel.Handle
// and the call runs without it.
//
// # Telemetry
//
// Each call records a span named work.Map, work.All, work.Race or work.Stream,
// a child of ctx's span, and, only when that span is recording, one child
// span per item (work.Map.item and so on, with attribute
// chassis.work.index). When tracing is off there is no per-item tracing cost. The
// Int64UpDownCounter chassis.work.inflight ({task}) counts the functions
// running, with attribute chassis.work.op = map, all, race or stream. It is
// updated only when a metrics SDK is installed: twice per item for Race and
// Stream, and twice per worker for Map and All, whose workers run items back
// to back. The tracer
// and meter scope is github.com/chassis-go/chassis/work.
package work
