package cache

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"

	"github.com/chassis-go/chassis/internal/panicval"
)

// ErrNotFound is the error a load returns (or wraps) to say that the key
// does not exist at the source. GetOrLoad returns it to the callers like any
// other error, but with Config.NegativeTTL set it caches the result for that
// long, and it is never hidden by StaleIfError: a stale value of a key the
// source no longer has is dropped instead.
var ErrNotFound = errors.New("cache: not found")

// errGoexit is a load that called runtime.Goexit (t.FailNow in a test).
var errGoexit = errors.New("cache: load called runtime.Goexit")

// PanicError is the error GetOrLoad returns to every waiter of a load that
// panicked. Nothing is cached and the key is free for the next load.
type PanicError struct {
	// Value is the value the load panicked with.
	Value any
	// Stack is the load goroutine's stack at the panic.
	Stack []byte
}

// Error returns one line, "cache: load panic: " and the value as bounded
// text, without the stack.
func (e *PanicError) Error() string { return "cache: load panic: " + panicval.String(e.Value) }

// Unwrap returns Value if it is an error, so errors.Is and errors.As see
// through the panic.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// flight is one load of one key; its waiters block on done.
type flight[V any] struct {
	done chan struct{}
	val  V
	err  error
	// invalidated is set (under the shard's lock) by Set, Delete and Clear
	// while the load runs: its result then goes to its waiters but is not
	// stored, because it may predate the change.
	invalidated bool
}

// GetOrLoad returns k's value from the cache or, on a miss, from load,
// storing the result.
//
// # Singleflight
//
// At most one load of a key runs at a time in a Cache: callers that miss
// while a load of k is running wait for it and share its result. The load
// runs on a goroutine of its own, detached from the cancellation of the
// caller that started it (its context is context.WithoutCancel of that
// caller's, so values such as the trace span carry over), with a deadline of
// Config.LoadTimeout; it is cancelled by Close. A caller whose ctx ends
// stops waiting and gets ctx.Err(), while the load goes on for the other
// waiters and for the cache. The result is stored only if the load
// succeeded and no Set, Delete or Clear of k happened meanwhile.
//
// # Errors
//
// An error from load is returned to every waiter of that load and is never
// cached, with one exception: an error matching [ErrNotFound] is cached for
// Config.NegativeTTL when that is set (and then returned as is, without
// calling load, until it expires). A panic in load becomes a [*PanicError]
// for every waiter; it is not re-raised, since the load runs on its own
// goroutine. Either way the next call loads again.
//
// # Stale serving
//
// With Config.StaleWhileRevalidate, an entry up to that long past its
// expiry is returned at once, and one background load (shared with any
// other caller) refreshes it. With Config.StaleIfError, when the load that
// should replace an expired entry fails (not with ErrNotFound), the old
// value is returned instead of the error if it expired at most that long
// ago.
//
// After Close, GetOrLoad still serves cached values, and a miss loads on the
// caller's goroutine under the caller's ctx (plus LoadTimeout), still one
// load per key; no background refresh starts.
//
// GetOrLoad panics if load is nil.
func (c *Cache[K, V]) GetOrLoad(ctx context.Context, k K, load func(context.Context, K) (V, error)) (V, error) {
	var zero V
	if load == nil {
		panic("cache.GetOrLoad: load is nil; pass the function that reads the value from its source")
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	h := c.hash(k)
	s := c.shardOf(h)
	st := c.stripeOf(h)
	e := s.find(h, k)
	if e != nil {
		now := int64(0)
		if e.expires != never {
			now = c.nanos()
		}
		if e.expires == never || now < e.expires {
			e.touch()
			st.hits.Add(1)
			if e.neg != nil {
				return zero, e.neg.err
			}
			return e.val, nil
		}
		if e.neg == nil && now < e.expires+int64(c.swr) {
			e.touch()
			st.stale.Add(1)
			c.start(ctx, s, h, k, load, true)
			return e.val, nil
		}
	}
	st.misses.Add(1)
	f := c.start(ctx, s, h, k, load, false)
	select {
	case <-f.done:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	if f.err == nil {
		return f.val, nil
	}
	if e != nil && e.neg == nil && c.sie > 0 && !errors.Is(f.err, ErrNotFound) && c.nanos() < e.expires+int64(c.sie) {
		st.stale.Add(1)
		return e.val, nil
	}
	return zero, f.err
}

// start returns k's flight, starting a load if none runs. A background
// refresh (refresh true) is not started after Close.
func (c *Cache[K, V]) start(ctx context.Context, s *shard[K, V], h uint64, k K, load func(context.Context, K) (V, error), refresh bool) *flight[V] {
	s.mu.Lock()
	if f := s.flights[k]; f != nil {
		s.mu.Unlock()
		return f
	}
	c.bg.Lock()
	closed := c.closed
	if !closed {
		c.wg.Add(1)
	}
	c.bg.Unlock()
	if closed && refresh {
		s.mu.Unlock()
		return nil
	}
	f := &flight[V]{done: make(chan struct{})}
	s.flights[k] = f
	s.mu.Unlock()

	if closed {
		lctx, cancel := c.withTimeout(ctx)
		defer cancel()
		c.run(lctx, s, h, k, load, f, refresh)
		return f
	}
	lctx, cancel := c.withTimeout(context.WithoutCancel(ctx))
	go func() {
		defer c.wg.Done()
		defer cancel()
		defer context.AfterFunc(c.stop, cancel)()
		c.run(lctx, s, h, k, load, f, refresh)
	}()
	return f
}

func (c *Cache[K, V]) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.loadTimeout < 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.loadTimeout)
}

// run calls load and settles f: stores the result (or a negative entry, or
// drops an entry the source no longer has), removes f from the shard's
// flights and releases its waiters. It settles f even if load panics or
// calls runtime.Goexit, so no key is ever left wedged.
func (c *Cache[K, V]) run(ctx context.Context, s *shard[K, V], h uint64, k K, load func(context.Context, K) (V, error), f *flight[V], refresh bool) {
	c.loads.Add(1)
	c.metrics.loads.Add(context.Background(), 1, c.metrics.attrs)
	settled := false
	defer func() {
		if !settled { // Goexit: the deferred call is all that runs
			f.err = errGoexit
			c.settle(s, h, k, f, refresh)
		}
	}()
	f.val, f.err = call(ctx, k, load)
	settled = true
	c.settle(s, h, k, f, refresh)
}

func call[K comparable, V any](ctx context.Context, k K, load func(context.Context, K) (V, error)) (v V, err error) {
	defer func() {
		if r := recover(); r != nil {
			var zero V
			v, err = zero, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return load(ctx, k)
}

func (c *Cache[K, V]) settle(s *shard[K, V], h uint64, k K, f *flight[V], refresh bool) {
	var e *entry[K, V]
	notFound := f.err != nil && errors.Is(f.err, ErrNotFound)
	if f.err == nil || (notFound && c.negTTL > 0) {
		now := c.nanos()
		e = &entry[K, V]{key: k, hash: h, cost: 1}
		if f.err == nil {
			e.val, e.cost = f.val, c.costOf(k, f.val)
			e.expires = c.expiry(now)
		} else {
			e.neg = &negative{f.err}
			e.expires = now + int64(c.negTTL)
		}
	}
	var ev evictions
	s.mu.Lock()
	delete(s.flights, k)
	if !f.invalidated {
		switch {
		case e != nil:
			ev = s.store(e, c.nanos())
		case notFound:
			if old := s.find(h, k); old != nil {
				s.remove(old)
			}
		}
	}
	s.mu.Unlock()
	s.count(ev)
	close(f.done)
	if f.err != nil {
		c.loadFailed(f.err, refresh)
	}
}

func (c *Cache[K, V]) loadFailed(err error, refresh bool) {
	if errors.Is(err, ErrNotFound) {
		return
	}
	c.loadErrors.Add(1)
	var pe *PanicError
	switch {
	case errors.As(err, &pe):
		c.metrics.loadErrors.Add(context.Background(), 1, c.metrics.errPanic)
	case errors.Is(err, context.DeadlineExceeded):
		c.metrics.loadErrors.Add(context.Background(), 1, c.metrics.errTimeout)
	default:
		c.metrics.loadErrors.Add(context.Background(), 1, c.metrics.errOther)
	}
	if !refresh {
		return // the waiters got the error
	}
	if suppressed, ok := c.throttle.Allow(c.now()); ok {
		l := c.logger
		if l == nil {
			l = slog.Default()
		}
		l.LogAttrs(context.Background(), slog.LevelWarn, "cache: background refresh failed",
			slog.String("cache", c.name), slog.String("error", err.Error()),
			slog.Int64("suppressed", suppressed))
	}
}

// Close cancels the contexts of loads running in the background and waits
// for them to return; a load that ignores its context delays Close until it
// returns. Their waiters get the loads' errors. It also stops the cache's
// metrics callback. After Close the cache still works, without background
// goroutines (see GetOrLoad). Close is idempotent and safe for concurrent
// use.
func (c *Cache[K, V]) Close() {
	c.bg.Lock()
	already := c.closed
	c.closed = true
	c.bg.Unlock()
	c.stopAll()
	c.wg.Wait()
	if !already {
		c.metrics.unregister()
	}
}
