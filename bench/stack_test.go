package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/httpkit"
)

// discardProcessor is a span processor that drops every span, so that the
// spans are created, sampled and ended (the SDK's full cost) but neither kept
// nor exported.
type discardProcessor struct{}

func (discardProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discardProcessor) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discardProcessor) Shutdown(context.Context) error                  { return nil }
func (discardProcessor) ForceFlush(context.Context) error                { return nil }

// newTracerProvider returns an SDK tracer provider that samples every span
// and discards it.
func newTracerProvider(b *testing.B) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(discardProcessor{}),
	)
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

// userMux is the application behind the stacks: one route writing a small
// JSON body.
func userMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"`+r.PathValue("id")+`","name":"Ada"}`)
	})
	return mux
}

// serveEach runs req through h once per op with a fresh recorder and checks
// for a 200.
func serveEach(b *testing.B, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, "/users/42", nil)
	req.RemoteAddr = "203.0.113.7:40000"
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d; want 200", w.Code)
		}
	}
}

// BenchmarkStack is one request through a full chassis server stack with
// tracing on, against otelhttp alone: what the rest of the stack costs on
// top of tracing. Both record every span with an SDK tracer provider
// (AlwaysSample, spans discarded) and metrics through the global no-op
// MeterProvider.
//
//   - chassis: httpkit.Chain(RequestID, Tracing, Logging,
//     guard.SecurityHeaders(defaults), guard.RateLimit(MemoryLimiter, RemoteIP,
//     never denying), guard.MaxBody(1 MiB), guard.Timeout(10s), Recovery)
//     around the mux, in the order httpkit's package doc gives; the logger's
//     handler is slog.DiscardHandler, so the access-log line is not
//     formatted.
//   - chassis_no_timeout: the same without guard.Timeout, to show what its
//     goroutine hand-off costs: the handler runs on a new goroutine so that
//     the response can go out at the deadline, and waking it and then the
//     waiting serving goroutine costs two scheduler wake-ups of an idle
//     thread on an otherwise idle machine.
//   - otelhttp: otelhttp.NewHandler around the same mux.
func BenchmarkStack(b *testing.B) {
	tp := newTracerProvider(b)
	mux := userMux()
	logger := slog.New(slog.DiscardHandler)
	stack := func(timeout bool) http.Handler {
		mw := []func(http.Handler) http.Handler{
			httpkit.RequestID,
			httpkit.Tracing(httpkit.WithTracerProvider(tp)),
			httpkit.Logging(logger),
			guard.SecurityHeaders(guard.DefaultSecurityHeaders()),
			guard.RateLimit(guard.RateLimitConfig{
				Limiter: guard.NewMemoryLimiter(guard.PerSecond(1e9)),
				Key:     guard.RemoteIP(),
			}),
			guard.MaxBody(1 << 20),
		}
		if timeout {
			mw = append(mw, guard.Timeout(10*time.Second))
		}
		mw = append(mw, httpkit.Recovery(logger))
		return httpkit.Chain(mw...)(mux)
	}
	b.Run("chassis", func(b *testing.B) { serveEach(b, stack(true)) })
	b.Run("chassis_no_timeout", func(b *testing.B) { serveEach(b, stack(false)) })
	b.Run("otelhttp", func(b *testing.B) {
		serveEach(b, otelhttp.NewHandler(mux, "server", otelhttp.WithTracerProvider(tp)))
	})
}

// BenchmarkTracing is httpkit.Tracing alone against otelhttp.NewHandler
// alone, same tracer provider and mux as BenchmarkStack: the cost of
// chassis's wrapper (route-based span names, the shared route holder).
func BenchmarkTracing(b *testing.B) {
	tp := newTracerProvider(b)
	mux := userMux()
	b.Run("chassis", func(b *testing.B) {
		serveEach(b, httpkit.Tracing(httpkit.WithTracerProvider(tp))(mux))
	})
	b.Run("otelhttp", func(b *testing.B) {
		serveEach(b, otelhttp.NewHandler(mux, "server", otelhttp.WithTracerProvider(tp)))
	})
}
