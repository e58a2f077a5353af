package guard

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/chassis-go/chassis/internal/respwrite"
	"github.com/chassis-go/chassis/overload"
	"github.com/chassis-go/chassis/problem"
)

// ShedConfig configures [Shed]. Limiter is required; every other zero
// field means the documented default. Shed copies the config.
type ShedConfig struct {
	// Limiter admits requests. Required. Share one Limiter between the
	// routes that use the same resource (the process's CPU, a database
	// pool); its Status() feeds an admin page.
	Limiter *overload.Limiter

	// Priority, if non-nil, returns the priority of each request (for
	// example from a header set by your gateway, with
	// [overload.ParsePriority]). Nil means overload.Default for every
	// request. It must be safe for concurrent use and must not block.
	Priority func(*http.Request) overload.Priority

	// Exempt, if non-nil, is called first; requests for which it returns
	// true (health probes, /metrics, WebSocket upgrades and other
	// long-lived streams) go to the handler without asking the limiter.
	// Probes must be exempt: a readiness probe refused under load would
	// take the instance out of rotation and move its load to the others.
	Exempt func(*http.Request) bool

	// RetryAfter is the Retry-After of a 503, in whole seconds, rounded
	// up. Zero means 1s. Negative is invalid.
	RetryAfter time.Duration
}

// shedProblem is the body of a refused request.
var shedProblem = problem.Unavailable("the server is overloaded; retry later")

// Shed returns middleware that admits each request through
// cfg.Limiter (an adaptive concurrency limit: see package overload) and
// answers the others at once, so that the requests admitted finish in time
// while the service receives more than it can do:
//
//   - Admitted: next is called; its unit of the limit is released when next
//     returns. The outcome teaches the limiter: Dropped (a sign of
//     overload) if the request context's deadline passed or next answered
//     503 or 504; Ignored (no latency sample) if the client went away (the
//     request context was cancelled), the connection was hijacked, or next
//     panicked (the panic goes on); Success otherwise, other 5xx included:
//     a fast failure is still the service's latency.
//   - Refused (the error wraps overload.ErrOverloaded): 503 Service
//     Unavailable with a problem+json body and Retry-After
//     (cfg.RetryAfter); next is not called.
//   - The request context ended while waiting in the limiter's queue:
//     nothing is written (the client is gone, or an outer timeout
//     answers); next is not called.
//
// The ResponseWriter given to next keeps http.Flusher, http.Hijacker,
// io.ReaderFrom and Unwrap. The request context's deadline, if an outer
// layer set one, makes the limiter refuse at once a request that could not
// finish in time.
//
// Mount Shed after RequestID, Tracing and Logging, so 503s carry the
// request id and are logged, and after SecurityHeaders, CORS and
// RateLimit, so a client over its own quota does not take a unit of the
// shared limit; mount it before MaxBody and Timeout, so a refused request
// costs no body read and no timer (the order in httpkit's package doc).
//
// Panics if cfg.Limiter is nil or cfg.RetryAfter is negative.
func Shed(cfg ShedConfig) func(http.Handler) http.Handler {
	if cfg.Limiter == nil {
		panic("guard.Shed: cfg.Limiter is nil; build one with overload.NewLimiter(overload.Config{})")
	}
	if cfg.RetryAfter < 0 {
		panic("guard.Shed: cfg.RetryAfter is negative (" + cfg.RetryAfter.String() + "); use 0 for the default 1s")
	}
	ra := cfg.RetryAfter
	if ra == 0 {
		ra = time.Second
	}
	retryAfter := []string{strconv.FormatInt(ceilSeconds(ra, 1), 10)}
	s := &shedder{cfg: cfg, retryAfter: retryAfter}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.serve(next, w, r)
		})
	}
}

type shedder struct {
	cfg        ShedConfig
	retryAfter []string
}

func (s *shedder) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if s.cfg.Exempt != nil && s.cfg.Exempt(r) {
		next.ServeHTTP(w, r)
		return
	}
	p := overload.Default
	if s.cfg.Priority != nil {
		p = s.cfg.Priority(r)
	}
	ctx := r.Context()
	t, err := s.cfg.Limiter.Acquire(ctx, p)
	if err != nil {
		if errors.Is(err, overload.ErrOverloaded) {
			w.Header()["Retry-After"] = s.retryAfter
			problem.Write(w, r, shedProblem)
		}
		return
	}
	rw := respwrite.New(w)
	outcome := overload.Ignored // what a panic in next leaves
	defer func() { t.Done(outcome) }()
	next.ServeHTTP(rw, r)
	outcome = shedOutcome(ctx, rw)
}

// shedOutcome classifies a request that next has served.
func shedOutcome(ctx context.Context, rw *respwrite.Writer) overload.Outcome {
	switch err := ctx.Err(); {
	case errors.Is(err, context.DeadlineExceeded):
		return overload.Dropped
	case err != nil, rw.Hijacked():
		return overload.Ignored
	}
	switch rw.Status() {
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return overload.Dropped
	}
	return overload.Success
}
