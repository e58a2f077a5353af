package work

import (
	"cmp"
	"context"
	"slices"
)

// Race runs every task at once, each on its own goroutine, and returns the
// value of the first one to succeed; the context passed to the others is then
// cancelled. If every task fails, Race returns the zero value and an
// *[Errors] holding each failure, indexed by position in tasks. With no
// tasks it returns [ErrNoTasks]. A panic in a task is recovered and counts as
// that task's failure (a *[PanicError]); a nil task panics when run.
//
// Cancellation contract: Race returns as soon as it has a winner, or as soon
// as ctx is done (returning ctx.Err()), without waiting for the other tasks.
// Their goroutines may outlive the call until their task returns, which a
// task that ignores its context may take arbitrarily long to do; they never
// block on anything of Race's, since each has a buffered slot for its result,
// and their results are discarded. If ctx is already done, no task runs and
// ctx.Err() is returned.
//
// Race takes no options: it runs len(tasks) goroutines, and records its span
// and the chassis.work.inflight metric through otel.GetTracerProvider() and
// otel.GetMeterProvider().
func Race[R any](ctx context.Context, tasks ...func(context.Context) (R, error)) (R, error) {
	var zero R
	if len(tasks) == 0 {
		return zero, ErrNoTasks
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	var cfg config
	ctx, tel := startCall(ctx, &cfg, opRace)
	if tel.recording {
		tel.span.SetAttributes(attrItems.Int(len(tasks)))
	}
	raceCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	type outcome struct {
		value R
		err   error
		index int
	}
	results := make(chan outcome, len(tasks)) // never blocks a loser
	for i, task := range tasks {
		go func() {
			var v R
			ictx, span := tel.startItem(raceCtx, i)
			err := protect(ictx, i, func(ctx context.Context, _ int) error {
				var err error
				v, err = task(ctx)
				return err
			})
			tel.endItem(ictx, span, err)
			results <- outcome{value: v, err: err, index: i}
		}()
	}

	var errs []*ItemError
	for range tasks {
		select {
		case o := <-results:
			if o.err == nil {
				cancel()
				tel.end(nil)
				return o.value, nil
			}
			errs = append(errs, &ItemError{Index: o.index, Err: o.err})
		case <-ctx.Done():
			err := ctx.Err()
			tel.end(err)
			return zero, err
		}
	}
	slices.SortFunc(errs, func(x, y *ItemError) int { return cmp.Compare(x.Index, y.Index) })
	err := &Errors{Errs: errs}
	tel.end(err)
	return zero, err
}
