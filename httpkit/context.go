package httpkit

import (
	"context"
	"net/http"
	"strings"
	"sync"
)

// ctxKey is the context key of the *reqInfo that chassis middleware share;
// only RequestIDFrom and this file read it.
type ctxKey struct{}

// reqInfo is what the middleware of this package learn about one request
// and share with each other. It lives in the request context, so a
// middleware outside another sees what the inner one learnt even though
// each works on its own shallow copy of the *http.Request (r.WithContext).
// In particular http.ServeMux sets Pattern on the request it is given, which
// middleware further out never see: the innermost of ours copies it here.
//
// The mutex is there because a middleware such as a timeout may return
// while the handler still runs on another goroutine.
type reqInfo struct {
	mu      sync.Mutex
	id      string
	pattern string
}

func infoFrom(ctx context.Context) *reqInfo {
	info, _ := ctx.Value(ctxKey{}).(*reqInfo)
	return info
}

// withInfo returns r and its *reqInfo, adding one to a copy of r when the
// context has none.
func withInfo(r *http.Request) (*http.Request, *reqInfo) {
	if info := infoFrom(r.Context()); info != nil {
		return r, info
	}
	info := new(reqInfo)
	return r.WithContext(context.WithValue(r.Context(), ctxKey{}, info)), info
}

func (i *reqInfo) requestID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.id
}

// setID sets the id unless one is set, and returns the id in force.
func (i *reqInfo) setID(id string) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.id == "" {
		i.id = id
	}
	return i.id
}

// publish records pattern, the route a ServeMux matched, for the middleware
// further out. The first pattern published wins: deferred publishes run
// innermost first, so with nested muxes the innermost (most specific) route
// is kept, not the outer mux's catch-all.
func (i *reqInfo) publish(pattern string) {
	if pattern == "" {
		return
	}
	i.mu.Lock()
	if i.pattern == "" {
		i.pattern = pattern
	}
	i.mu.Unlock()
}

// routePattern returns the most specific route known for r: the pattern an
// inner middleware published, else r.Pattern. It records nothing, so it may
// be called before routing (as Tracing's span namer is).
func (i *reqInfo) routePattern(r *http.Request) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.pattern != "" {
		return i.pattern
	}
	return r.Pattern
}

// publishRoute records r.Pattern, if set, for the middleware further out.
func publishRoute(r *http.Request) {
	if info := infoFrom(r.Context()); info != nil {
		info.publish(r.Pattern)
	}
}

// patternOf is routePattern for a request that may carry no *reqInfo.
func patternOf(r *http.Request) string {
	if info := infoFrom(r.Context()); info != nil {
		return info.routePattern(r)
	}
	return r.Pattern
}

// route returns the path part of a ServeMux pattern: "GET
// example.com/users/{id}" gives "/users/{id}"; a pattern without a path
// gives "".
func route(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}
