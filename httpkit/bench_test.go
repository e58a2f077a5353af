package httpkit_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/chassis-go/chassis/httpkit"
)

func benchHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	return mux
}

func benchServe(b *testing.B, h http.Handler, req *http.Request) {
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// BenchmarkChain measures the recommended chain against the bare mux, on an
// httptest recorder, with a logger that discards (but is enabled, so the
// access-log line is built).
func BenchmarkChain(b *testing.B) {
	logger := slog.New(discardEnabled{})
	req := httptest.NewRequest("GET", "/users/42", nil)
	b.Run("bare", func(b *testing.B) { benchServe(b, benchHandler(), req) })
	b.Run("chain/noop-otel", func(b *testing.B) {
		h := httpkit.Chain(httpkit.Recovery(logger), httpkit.RequestID, httpkit.Tracing(), httpkit.Logging(logger))(benchHandler())
		benchServe(b, h, req)
	})
	b.Run("chain/noop-otel/inbound-id", func(b *testing.B) {
		h := httpkit.Chain(httpkit.Recovery(logger), httpkit.RequestID, httpkit.Tracing(), httpkit.Logging(logger))(benchHandler())
		r := req.Clone(context.Background())
		r.Header.Set("X-Request-ID", "abc-123")
		benchServe(b, h, r)
	})
	b.Run("chain/sdk-tracer", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		h := httpkit.Chain(httpkit.Recovery(logger), httpkit.RequestID,
			httpkit.Tracing(httpkit.WithTracerProvider(tp)), httpkit.Logging(logger))(benchHandler())
		benchServe(b, h, req)
	})
	for _, m := range []struct {
		name string
		mw   func(http.Handler) http.Handler
	}{
		{"RequestID", httpkit.RequestID},
		{"Logging", httpkit.Logging(logger)},
		{"Recovery", httpkit.Recovery(logger)},
		{"Tracing", httpkit.Tracing()},
	} {
		b.Run("only/"+m.name, func(b *testing.B) { benchServe(b, m.mw(benchHandler()), req) })
	}
}

// discardEnabled is slog.DiscardHandler but enabled, so records are built.
type discardEnabled struct{}

func (discardEnabled) Enabled(context.Context, slog.Level) bool  { return true }
func (discardEnabled) Handle(context.Context, slog.Record) error { return nil }
func (d discardEnabled) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardEnabled) WithGroup(string) slog.Handler           { return d }

func BenchmarkDecodeJSON(b *testing.B) {
	body := `{"name":"Ada","age":36,"address":{"zip":"8000"},"tags":["a","b","c"]}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var p person
		if err := httpkit.DecodeJSON(httptest.NewRecorder(), req, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteJSON(b *testing.B) {
	v := map[string]any{"name": "Ada", "age": 36, "tags": []string{"a", "b", "c"}}
	req := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		if err := httpkit.WriteJSON(httptest.NewRecorder(), req, 200, v); err != nil {
			b.Fatal(err)
		}
	}
}
