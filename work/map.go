package work

import (
	"cmp"
	"context"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
)

// Map calls fn on each item, at most [Workers](n) at a time (default
// GOMAXPROCS), and returns the results in input order: results[i] is
// fn(ctx, items[i]).
//
// Every item runs unless [FailFast] is set or ctx is done. Failures are
// returned together as an *[Errors] holding one *[ItemError] per failed item,
// sorted by index; every index not listed there holds a valid result, and a
// failed item's result is the zero value. The returned slice always has
// len(items) elements, except when ctx is already done before Map starts:
// then it returns nil and ctx.Err() without calling fn. An empty items
// returns an empty slice and nil.
//
// With FailFast, the first failure cancels the context passed to the other
// items (its cause is the failure), items not yet started never start, and
// Map returns that first failure alone, as an *ItemError; results of the
// items that had succeeded are kept. If ctx is done before any item failed,
// the first item never started is that failure, with ctx.Err().
//
// Cancellation contract: the workers stop taking items as soon as ctx is
// done, so cancelling ctx never leaves the caller waiting for a free worker.
// Without FailFast, items never started are reported with ctx.Err() as their
// error. Items already running see their context cancelled, and Map returns
// only after every fn it started has returned: no goroutine started by Map
// outlives it. If fn ignores its context, Map waits for it.
//
// A panic in fn is recovered and becomes that item's *[PanicError]. The
// calling goroutine is one of the workers; at most min(n, len(items))-1 other
// goroutines are started. Options [Ordered] and [Window] have no effect.
//
// Panics if fn is nil.
func Map[T, R any](ctx context.Context, items []T, fn func(context.Context, T) (R, error), opts ...Option) ([]R, error) {
	if fn == nil {
		panic("work.Map: fn is nil; pass the function to apply to each item")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	results := make([]R, len(items))
	cfg := newConfig(opts)
	err := run(ctx, &cfg, opMap, len(items), func(ctx context.Context, i int) error {
		r, err := fn(ctx, items[i])
		if err != nil {
			return err
		}
		results[i] = r
		return nil
	})
	return results, err
}

// All runs the tasks, at most [Workers](n) at a time (default GOMAXPROCS),
// and returns nil if all of them succeeded. It is [Map] without results: the
// same error reporting (an *[Errors] indexed by position in tasks, or the
// first failure with [FailFast]), the same cancellation contract (All returns
// only after every started task has returned; if ctx is already done, no task
// runs and ctx.Err() is returned) and the same panic handling. A nil task
// panics when run and so is reported as that task's *[PanicError].
func All(ctx context.Context, tasks []func(context.Context) error, opts ...Option) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg := newConfig(opts)
	return run(ctx, &cfg, opAll, len(tasks), func(ctx context.Context, i int) error {
		return tasks[i](ctx)
	})
}

// batch is the shared state of one Map or All call: a fixed pool of workers
// pulls indices from next until the items or the context run out.
type batch struct {
	n      int
	task   func(context.Context, int) error
	ctx    context.Context // passed to items: the call span's, cancelled by FailFast
	done   <-chan struct{} // ctx.Done(); nil if ctx can never be cancelled
	cancel context.CancelCauseFunc
	tel    telemetry
	next   atomic.Int64
	wg     sync.WaitGroup

	mu    sync.Mutex
	errs  []*ItemError // without FailFast
	first *ItemError   // with FailFast
}

// run is the engine of Map and All; task(ctx, i) runs item i.
func run(ctx context.Context, cfg *config, o op, n int, task func(context.Context, int) error) error {
	if n == 0 {
		return nil
	}
	w := min(cfg.poolSize(), n)
	ctx, tel := startCall(ctx, cfg, o)
	if tel.recording {
		tel.span.SetAttributes(attrItems.Int(n), attrWorkers.Int(w))
	}
	b := &batch{n: n, task: task, ctx: ctx, tel: tel}
	if cfg.failFast {
		b.ctx, b.cancel = context.WithCancelCause(ctx)
		defer b.cancel(nil)
	}
	b.done = b.ctx.Done()

	for range w - 1 {
		b.wg.Go(b.work)
	}
	b.work()
	b.wg.Wait()

	err := b.result(ctx)
	b.tel.end(err)
	return err
}

// work is one worker: it claims the next index until none is left or the
// context is done. A worker runs items back to back, so it counts as one
// inflight task from its first item to its exit: two metric updates per
// worker rather than per item.
func (b *batch) work() {
	counted := false
	for {
		if b.done != nil {
			select {
			case <-b.done:
				b.uncount(counted)
				return
			default:
			}
		}
		i := int(b.next.Add(1) - 1)
		if i >= b.n {
			b.uncount(counted)
			return
		}
		if !counted {
			b.tel.add(b.ctx, 1)
			counted = true
		}
		ctx, span := b.tel.startSpan(b.ctx, i)
		err := protect(ctx, i, b.task)
		endSpan(span, err)
		if err != nil {
			b.fail(i, err)
		}
	}
}

func (b *batch) uncount(counted bool) {
	if counted {
		b.tel.add(b.ctx, -1)
	}
}

// protect runs task(ctx, i), turning a panic into a *PanicError.
func protect(ctx context.Context, i int, task func(context.Context, int) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return task(ctx, i)
}

// fail records item i's failure. With FailFast the first one cancels the
// others, after b.mu is released.
func (b *batch) fail(i int, err error) {
	ie := &ItemError{Index: i, Err: err}
	b.mu.Lock()
	if b.cancel == nil {
		b.errs = append(b.errs, ie)
		b.mu.Unlock()
		return
	}
	first := b.first == nil
	if first {
		b.first = ie
	}
	b.mu.Unlock()
	if first {
		b.cancel(ie)
	}
}

// result builds the call's error once every worker has returned. parent is
// the caller's context (with the call span): items [claimed, n) never
// started, which happens only when a context was done.
func (b *batch) result(parent context.Context) error {
	claimed := min(int(b.next.Load()), b.n)
	if b.cancel != nil {
		if b.first != nil {
			return b.first
		}
		if claimed < b.n {
			return &ItemError{Index: claimed, Err: parent.Err()}
		}
		return nil
	}
	if claimed < b.n {
		err := parent.Err()
		skipped := make([]ItemError, b.n-claimed)
		for k := range skipped {
			skipped[k] = ItemError{Index: claimed + k, Err: err}
			b.errs = append(b.errs, &skipped[k])
		}
	}
	if len(b.errs) == 0 {
		return nil
	}
	slices.SortFunc(b.errs, func(x, y *ItemError) int { return cmp.Compare(x.Index, y.Index) })
	return &Errors{Errs: b.errs}
}
