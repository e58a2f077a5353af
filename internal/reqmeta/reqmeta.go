// Package reqmeta is the one home of what chassis middleware learn about a
// request and share with each other: its request id and the route a
// ServeMux matched. guard, httpkit, problem and the HTTP metrics all read
// these facts here, so the access log, the span, the metrics and problem
// bodies always agree.
//
// The *Info lives in the request context. A middleware outside another sees
// what the inner one learnt even though each works on its own shallow copy
// of the *http.Request (r.WithContext): http.ServeMux sets Pattern on the
// request it is given, which middleware further out never see, so the
// innermost middleware publishes it here.
package reqmeta

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// ctxKey is the context key of the *Info.
type ctxKey struct{}

// Info is what chassis middleware know about one request. The zero Info is
// empty and ready. It is safe for concurrent use: a middleware such as a
// timeout may return while the handler still runs on another goroutine.
type Info struct {
	mu      sync.Mutex
	id      string
	pattern string
}

// From returns the *Info in ctx, or nil.
func From(ctx context.Context) *Info {
	info, _ := ctx.Value(ctxKey{}).(*Info)
	return info
}

// Ensure returns r and its *Info, adding a new one to a copy of r when r's
// context has none.
func Ensure(r *http.Request) (*http.Request, *Info) {
	if info := From(r.Context()); info != nil {
		return r, info
	}
	c := &infoCtx{Context: r.Context()}
	return r.WithContext(c), &c.info
}

// infoCtx is a context carrying an *Info: context.WithValue with the Info
// in the same allocation. It answers Value for ctxKey and asks its parent
// for everything else, like the context package's own value context; the
// parent's Done, Err and Deadline are its own, so the context package's
// cancellation propagation sees through it as it does through WithValue.
type infoCtx struct {
	context.Context
	info Info
}

func (c *infoCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return &c.info
	}
	return c.Context.Value(key)
}

func (c *infoCtx) String() string {
	return fmt.Sprint(c.Context) + ".WithValue(reqmeta.Info)"
}

// RequestID returns the request id recorded in ctx, or "".
func RequestID(ctx context.Context) string {
	if info := From(ctx); info != nil {
		return info.RequestID()
	}
	return ""
}

// RequestID returns the recorded request id, or "".
func (i *Info) RequestID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.id
}

// SetRequestID records id unless an id is recorded already, and returns the
// id in force.
func (i *Info) SetRequestID(id string) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.id == "" {
		i.id = id
	}
	return i.id
}

// Publish records pattern, the route a ServeMux matched, for the middleware
// further out. The first pattern published wins: deferred publishes run
// innermost first, so with nested muxes the innermost (most specific) route
// is kept, not the outer mux's catch-all. An empty pattern is ignored.
func (i *Info) Publish(pattern string) {
	if pattern == "" {
		return
	}
	i.mu.Lock()
	if i.pattern == "" {
		i.pattern = pattern
	}
	i.mu.Unlock()
}

// Pattern returns the most specific route pattern known for r: the one an
// inner middleware published, else r.Pattern. It records nothing, so it may
// be called before routing.
func (i *Info) Pattern(r *http.Request) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.pattern != "" {
		return i.pattern
	}
	return r.Pattern
}

// Publish records r.Pattern, if set, in r's *Info, if any.
func Publish(r *http.Request) {
	if info := From(r.Context()); info != nil {
		info.Publish(r.Pattern)
	}
}

// Pattern is [Info.Pattern] for a request that may carry no *Info.
func Pattern(r *http.Request) string {
	if info := From(r.Context()); info != nil {
		return info.Pattern(r)
	}
	return r.Pattern
}

// Route returns the path part of a ServeMux pattern: "GET
// example.com/users/{id}" gives "/users/{id}"; a pattern without a path
// gives "".
func Route(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}
