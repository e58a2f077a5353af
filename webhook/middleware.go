package webhook

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/chassis-go/chassis/internal/reqbody"

	"github.com/chassis-go/chassis/internal/respwrite"
	"github.com/chassis-go/chassis/problem"
)

// DefaultMaxBody is the largest body [Verifier.Middleware] reads without
// the MaxBody option: 1 MiB.
const DefaultMaxBody = 1 << 20

// DefaultMaxIDs is how many message ids a [MemoryReplayCache] remembers
// without the MaxIDs option.
const DefaultMaxIDs = 100_000

// maxIDLength bounds webhook-id, so the replay cache's memory is bounded
// too: longer ids are refused with 401.
const maxIDLength = 256

// ReplayCache remembers the ids of the messages [Verifier.Middleware]
// accepted, so that a captured message cannot be replayed while its
// timestamp is still within tolerance. [MemoryReplayCache] serves one
// replica; webhook/redisreplay's, on Redis, serves several. Implementations
// must be safe for concurrent use.
type ReplayCache interface {
	// Claim records id until expires and reports whether it was new. An
	// error means the cache could not decide; the middleware then answers
	// 503 (it never lets an unchecked message through).
	Claim(ctx context.Context, id string, expires time.Time) (fresh bool, err error)
	// Forget removes id, so that a delivery the handler failed (5xx or
	// panic) can be retried by the sender.
	Forget(ctx context.Context, id string) error
}

// ErrReplayCacheFull is returned by [MemoryReplayCache.Claim] when it holds
// MaxIDs unexpired ids: forgetting one early would let it be replayed, so
// the new message is refused (503, the sender retries later) instead.
var ErrReplayCacheFull = errors.New("webhook: replay cache full")

// MiddlewareOption configures [Verifier.Middleware].
type MiddlewareOption func(*middlewareOptions)

type middlewareOptions struct {
	maxBody int64
	cache   ReplayCache
}

// MaxBody sets the largest request body read, in bytes; a longer body is
// answered 413 without being verified. Without this option the cap is
// DefaultMaxBody. Panics if n is less than 1.
func MaxBody(n int64) MiddlewareOption {
	if n < 1 {
		panic(fmt.Sprintf("webhook.MaxBody: n must be at least 1, got %d", n))
	}
	return func(o *middlewareOptions) { o.maxBody = n }
}

// WithReplayCache sets where accepted message ids are remembered. A nil c,
// like no option, means a new [MemoryReplayCache] with default bounds and
// the Verifier's clock.
func WithReplayCache(c ReplayCache) MiddlewareOption {
	return func(o *middlewareOptions) { o.cache = c }
}

var (
	errUnauthorized = problem.Unauthorized("invalid webhook signature")
	errReplayed     = problem.Unauthorized("webhook message already received")
	errStale        = problem.Unauthorized("webhook timestamp outside tolerance")
	errMissing      = problem.Unauthorized("missing webhook signature headers")
	errBody         = problem.BadRequest("cannot read request body")
	errTooLarge     = problem.PayloadTooLarge("webhook body too large")
	errCacheDown    = problem.Unavailable("cannot check webhook replays")
)

// Middleware verifies each request as a Standard Webhooks message before
// calling next. It reads the raw body (at most MaxBody bytes), verifies it
// with v, and claims its webhook-id in the replay cache until its timestamp
// leaves the tolerance window. What the sender sees:
//   - 413 problem+json for a body over MaxBody; 400 if it cannot be read;
//   - 401 problem+json for missing headers, a timestamp out of tolerance,
//     no matching signature, an id over 256 bytes, or an id already
//     accepted within the window (a replay, or the sender's own retry of a
//     message that was handled: handlers must still deduplicate on
//     webhook-id beyond the window);
//   - 503 problem+json with Retry-After if the replay cache fails or is full;
//   - otherwise next's response. If next answers 5xx or panics, the id is
//     forgotten so the sender's retry is accepted; the panic propagates.
//
// next reads the original body, intact, from r.Body (and GetBody); its
// ResponseWriter keeps Flush, Hijack, ReadFrom and Unwrap (internal
// respwrite), so http.ResponseController works behind it. The middleware starts no goroutines; replay-cache calls use
// the request's context, except Forget, which is detached from its
// cancellation. Panics if an option is invalid.
func (v *Verifier) Middleware(opts ...MiddlewareOption) func(http.Handler) http.Handler {
	o := middlewareOptions{maxBody: DefaultMaxBody}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.cache == nil {
		o.cache = NewMemoryReplayCache(WithClock(v.now))
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v.serve(o, next, w, r)
		})
	}
}

func (v *Verifier) serve(o middlewareOptions, next http.Handler, w http.ResponseWriter, r *http.Request) {
	body, err := reqbody.Read(r, o.maxBody, errTooLarge, errBody)
	if err != nil {
		problem.Write(w, r, err)
		return
	}
	ts, err := v.verify(r.Header, body)
	switch {
	case errors.Is(err, ErrMissingHeader):
		problem.Write(w, r, errMissing)
		return
	case errors.Is(err, ErrTimestamp):
		problem.Write(w, r, errStale)
		return
	case err != nil:
		problem.Write(w, r, errUnauthorized)
		return
	}
	id := r.Header.Get(HeaderID)
	if len(id) > maxIDLength {
		problem.Write(w, r, errUnauthorized)
		return
	}
	fresh, err := o.cache.Claim(r.Context(), id, ts.Add(v.tolerance))
	switch {
	case err != nil:
		w.Header().Set("Retry-After", "1")
		problem.Write(w, r, errCacheDown)
		return
	case !fresh:
		problem.Write(w, r, errReplayed)
		return
	}
	r = reqbody.Replace(r, body)
	rw := respwrite.New(w)
	ok := false
	defer func() {
		if !ok || rw.Status() >= 500 {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
			defer cancel()
			_ = o.cache.Forget(ctx, id)
		}
	}()
	next.ServeHTTP(rw, r)
	ok = true
}

// MemoryReplayCache is a [ReplayCache] in process memory, bounded to MaxIDs
// unexpired ids. Build one with [NewMemoryReplayCache]; the zero value is not
// usable. It is safe for concurrent use. Expired ids are dropped as new ones
// arrive; when MaxIDs unexpired ids are held, Claim returns
// [ErrReplayCacheFull] rather than forget one early. Size MaxIDs above the
// number of messages expected within twice the tolerance.
type MemoryReplayCache struct {
	now func() time.Time
	max int

	mu  sync.Mutex
	ids map[string]time.Time
	exp expiryHeap
}

// CacheOption configures [NewMemoryReplayCache]: [MaxIDs] or [WithClock].
type CacheOption interface{ applyCache(*MemoryReplayCache) }

type cacheOptionFunc func(*MemoryReplayCache)

func (f cacheOptionFunc) applyCache(c *MemoryReplayCache) { f(c) }

// MaxIDs bounds the number of ids a MemoryReplayCache holds. Without this
// option the bound is DefaultMaxIDs. Panics if n is less than 1.
func MaxIDs(n int) CacheOption {
	if n < 1 {
		panic(fmt.Sprintf("webhook.MaxIDs: n must be at least 1, got %d", n))
	}
	return cacheOptionFunc(func(c *MemoryReplayCache) { c.max = n })
}

// ClockOption sets a clock; it configures both [NewMemoryReplayCache] and
// [NewSender]. Build one with [WithClock].
type ClockOption struct{ now func() time.Time }

// WithClock sets the clock that expires a MemoryReplayCache's ids, or that
// a Sender stamps messages with. A nil now, like no option, means time.Now.
func WithClock(now func() time.Time) ClockOption { return ClockOption{now} }

func (o ClockOption) applyCache(c *MemoryReplayCache) {
	if o.now != nil {
		c.now = o.now
	}
}

// NewMemoryReplayCache returns an empty MemoryReplayCache; nil options are
// ignored.
func NewMemoryReplayCache(opts ...CacheOption) *MemoryReplayCache {
	c := &MemoryReplayCache{now: time.Now, max: DefaultMaxIDs, ids: make(map[string]time.Time)}
	for _, o := range opts {
		if o != nil {
			o.applyCache(c)
		}
	}
	return c
}

// Claim implements [ReplayCache]; it never blocks and ignores ctx.
func (c *MemoryReplayCache) Claim(_ context.Context, id string, expires time.Time) (bool, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.exp) > 0 && !c.exp[0].at.After(now) {
		e := heap.Pop(&c.exp).(expiry)
		if at, ok := c.ids[e.id]; ok && at.Equal(e.at) {
			delete(c.ids, e.id)
		}
	}
	if at, ok := c.ids[id]; ok && at.After(now) {
		return false, nil
	}
	if len(c.ids) >= c.max {
		return false, ErrReplayCacheFull
	}
	if len(c.exp) >= 2*c.max { // entries left behind by Forget: rebuild
		c.exp = c.exp[:0]
		for k, at := range c.ids {
			c.exp = append(c.exp, expiry{k, at})
		}
		heap.Init(&c.exp)
	}
	c.ids[id] = expires
	heap.Push(&c.exp, expiry{id, expires})
	return true, nil
}

// Forget implements [ReplayCache]; it never blocks and ignores ctx.
func (c *MemoryReplayCache) Forget(_ context.Context, id string) error {
	c.mu.Lock()
	delete(c.ids, id)
	c.mu.Unlock()
	return nil
}

// Len reports how many ids are held, expired ones not yet dropped included.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

type expiry struct {
	id string
	at time.Time
}

type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
