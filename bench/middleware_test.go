package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sethvargo/go-limiter/httplimit"
	"github.com/sethvargo/go-limiter/memorystore"
	ulule "github.com/ulule/limiter/v3"
	ululestdlib "github.com/ulule/limiter/v3/drivers/middleware/stdlib"
	ululememory "github.com/ulule/limiter/v3/drivers/store/memory"

	"github.com/chassis-go/chassis/guard"
)

// okHandler is the handler behind the middleware: a two-byte 200.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	_, _ = io.WriteString(w, "ok")
})

// rateLimitMiddlewares returns each implementation's HTTP rate-limit
// middleware, keyed by the IP of RemoteAddr, allowing rate events per per
// with bursts of rate.
func rateLimitMiddlewares(b *testing.B, rate int, per time.Duration) map[string]http.Handler {
	chassis := guard.RateLimit(guard.RateLimitConfig{
		Limiter: guard.NewMemoryLimiter(guard.Limit{Rate: rate, Per: per}),
		Key:     guard.RemoteIP(),
	})(okHandler)

	ululeLim := ulule.New(ululememory.NewStore(), ulule.Rate{Period: per, Limit: int64(rate)})
	ulule := ululestdlib.NewMiddleware(ululeLim).Handler(okHandler)

	store, err := memorystore.New(&memorystore.Config{Tokens: uint64(rate), Interval: per})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close(context.Background()) })
	sv, err := httplimit.NewMiddleware(store, httplimit.IPKeyFunc())
	if err != nil {
		b.Fatal(err)
	}
	return map[string]http.Handler{"chassis": chassis, "ulule": ulule, "sethvargo": sv.Handle(okHandler)}
}

// middlewareImpls fixes the order in which the implementations run.
var middlewareImpls = []string{"chassis", "ulule", "sethvargo"}

// BenchmarkMiddlewareAllowed is one admitted request through each rate-limit
// middleware into okHandler, with a fresh httptest.NewRecorder per request
// (its cost is the same for all). Every implementation sets its rate-limit
// headers: chassis the IETF RateLimit and RateLimit-Policy pair, the peers
// X-RateLimit-Limit, -Remaining and -Reset.
func BenchmarkMiddlewareAllowed(b *testing.B) {
	// 1e9 per hour, so that no implementation denies during the benchmark
	// (sethvargo's memorystore refills Interval/Tokens tokens per elapsed
	// Interval: 1e9 per second would refill nothing).
	hs := rateLimitMiddlewares(b, 1e9, time.Hour)
	req := httptest.NewRequest(http.MethodGet, "/items", nil)
	req.RemoteAddr = "203.0.113.7:40000"
	for _, name := range middlewareImpls {
		h := hs[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d; want 200", w.Code)
				}
			}
		})
	}
}

// BenchmarkMiddlewareDenied is one rejected request: the key's single
// allowance per hour is spent before the loop. chassis answers with an RFC
// 9457 problem+json body, Retry-After and the RateLimit headers; ulule with a
// plain-text "Limit exceeded"; sethvargo with an empty 429 and its headers.
func BenchmarkMiddlewareDenied(b *testing.B) {
	hs := rateLimitMiddlewares(b, 1, time.Hour)
	req := httptest.NewRequest(http.MethodGet, "/items", nil)
	req.RemoteAddr = "203.0.113.7:40000"
	for _, name := range middlewareImpls {
		h := hs[name]
		h.ServeHTTP(httptest.NewRecorder(), req)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusTooManyRequests {
					b.Fatalf("status %d; want 429", w.Code)
				}
			}
		})
	}
}
