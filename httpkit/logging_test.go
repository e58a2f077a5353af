package httpkit_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/chassis-go/chassis/httpkit"
)

func TestLogging(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		target  string
		handler http.HandlerFunc
		level   slog.Level
		status  int64
		bytes   int64
	}{
		{"bare write", "/a", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") }, slog.LevelInfo, 200, 5},
		{"nothing written", "/a", func(http.ResponseWriter, *http.Request) {}, slog.LevelInfo, 200, 0},
		{"404 is info", "/a", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, slog.LevelInfo, 404, 19},
		{"503 is error", "/a", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, slog.LevelError, 503, 0},
		{"1xx then 201", "/a", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(103); w.WriteHeader(201) }, slog.LevelInfo, 201, 0},
		{"query never logged", "/a?token=s3cret&x=1", func(http.ResponseWriter, *http.Request) {}, slog.LevelInfo, 200, 0},
		{"escaped path", "/a%2Fb%20c", func(http.ResponseWriter, *http.Request) {}, slog.LevelInfo, 200, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &capture{}
			h := httpkit.Logging(slog.New(c))(tc.handler)
			req := httptest.NewRequest("POST", tc.target, nil)
			wantPath := req.URL.EscapedPath()
			h.ServeHTTP(httptest.NewRecorder(), req)
			recs := c.all()
			if len(recs) != 1 {
				t.Fatalf("logged %d records; want 1", len(recs))
			}
			r := recs[0]
			if r.msg != "http request" || r.level != tc.level {
				t.Errorf("record %q at %v; want \"http request\" at %v", r.msg, r.level, tc.level)
			}
			if got := r.attrs["status"].Int64(); got != tc.status {
				t.Errorf("status = %d; want %d", got, tc.status)
			}
			if got := r.attrs["bytes"].Int64(); got != tc.bytes {
				t.Errorf("bytes = %d; want %d", got, tc.bytes)
			}
			if got := r.attrs["method"].String(); got != "POST" {
				t.Errorf("method = %q; want POST", got)
			}
			if got := r.attrs["path"].String(); got != wantPath {
				t.Errorf("path = %q; want %q", got, wantPath)
			}
			if r.attrs["duration"].Duration() < 0 {
				t.Errorf("duration = %v; want >= 0", r.attrs["duration"])
			}
			for k, v := range r.attrs {
				if strings.Contains(v.String(), "s3cret") {
					t.Errorf("attribute %s = %q leaks the query string", k, v)
				}
			}
			for _, k := range []string{"route", "request_id", "trace_id", "span_id", "panic"} {
				if _, ok := r.attrs[k]; ok {
					t.Errorf("attribute %s = %v present; want absent here", k, r.attrs[k])
				}
			}
		})
	}
}

// replaceRequest is a middleware of someone else's that hands next a new
// request (as anything calling r.WithContext does).
func replaceRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		type k struct{}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), k{}, 1)))
	})
}

func TestLoggingRoute(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET example.com/users/{id}", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/static/", func(http.ResponseWriter, *http.Request) {})
	tests := []struct {
		name   string
		chain  func(*slog.Logger) http.Handler
		target string
		route  string
	}{
		{"mux inside Logging", func(l *slog.Logger) http.Handler { return httpkit.Logging(l)(mux) }, "http://example.com/users/7", "/users/{id}"},
		{"prefix pattern", func(l *slog.Logger) http.Handler { return httpkit.Logging(l)(mux) }, "/static/x.css", "/static/"},
		{"no match", func(l *slog.Logger) http.Handler { return httpkit.Logging(l)(mux) }, "/nope", ""},
		{"request replaced, RequestID next to mux", func(l *slog.Logger) http.Handler {
			return httpkit.Chain(httpkit.Logging(l), replaceRequest, httpkit.RequestID)(mux)
		}, "http://example.com/users/7", "/users/{id}"},
		{"request replaced, Tracing next to mux", func(l *slog.Logger) http.Handler {
			return httpkit.Chain(httpkit.Logging(l), replaceRequest, httpkit.Tracing())(mux)
		}, "http://example.com/users/7", "/users/{id}"},
		{"request replaced, Recovery next to mux", func(l *slog.Logger) http.Handler {
			return httpkit.Chain(httpkit.Logging(l), replaceRequest, httpkit.Recovery(l))(mux)
		}, "http://example.com/users/7", "/users/{id}"},
		{"nested muxes: the inner route wins over the outer catch-all", func(l *slog.Logger) http.Handler {
			root := http.NewServeMux()
			root.Handle("/", httpkit.Chain(httpkit.Tracing(), httpkit.Logging(l), replaceRequest, httpkit.Recovery(l))(mux))
			return root
		}, "http://example.com/users/7", "/users/{id}"},
		{"nested muxes, inner unmatched: the outer route", func(l *slog.Logger) http.Handler {
			root := http.NewServeMux()
			root.Handle("/", httpkit.Chain(httpkit.Logging(l), replaceRequest, httpkit.Recovery(l))(mux))
			return root
		}, "/nope", "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &capture{}
			tc.chain(slog.New(c)).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tc.target, nil))
			recs := c.all()
			if len(recs) != 1 {
				t.Fatalf("logged %d records; want 1", len(recs))
			}
			got, ok := recs[0].attrs["route"]
			if tc.route == "" {
				if ok {
					t.Errorf("route = %q; want absent", got)
				}
				return
			}
			if got.String() != tc.route {
				t.Errorf("route = %q; want %q", got, tc.route)
			}
		})
	}
}

func TestLoggingRequestID(t *testing.T) {
	t.Parallel()
	for _, order := range []string{"RequestID outside", "RequestID inside"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			c := &capture{}
			mws := []func(http.Handler) http.Handler{httpkit.RequestID, httpkit.Logging(slog.New(c))}
			if order == "RequestID inside" {
				mws[0], mws[1] = mws[1], mws[0]
			}
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("X-Request-ID", "abc")
			httpkit.Chain(mws...)(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), req)
			if got := c.all()[0].attrs["request_id"].String(); got != "abc" {
				t.Errorf("request_id = %q; want abc", got)
			}
		})
	}
}

// Logging leaves trace correlation to the handler: it never adds trace_id
// itself (so a correlating handler, however wrapped, never sees it twice)
// and logs with the request context, which holds the server span.
func TestLoggingTraceContext(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	c := &capture{}
	var sc trace.SpanContext
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc = trace.SpanContextFromContext(r.Context())
	})
	logger := slog.New(slog.NewMultiHandler(c)) // wrapped, as users do
	handler := httpkit.Chain(httpkit.Tracing(httpkit.WithTracerProvider(tp)), httpkit.Logging(logger))(inner)
	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	rec := c.all()[0]
	if _, ok := rec.attrs["trace_id"]; ok {
		t.Errorf("Logging added trace_id itself; the handler must")
	}
	if !sc.IsValid() || rec.span.TraceID() != sc.TraceID() || rec.span.SpanID() != sc.SpanID() {
		t.Errorf("record context span = %v/%v; want the server span %v/%v", rec.span.TraceID(), rec.span.SpanID(), sc.TraceID(), sc.SpanID())
	}
}

// A client hammering a rate limit gets one 429 line per second, with the
// count of the lines dropped since.
func TestLoggingThrottles429(t *testing.T) {
	t.Parallel()
	c := &capture{}
	h := httpkit.Logging(slog.New(c))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	for range 100 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	ok := httpkit.Logging(slog.New(c))(http.NotFoundHandler())
	ok.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	var denials, others int
	for _, r := range c.all() {
		if r.attrs["status"].Int64() == 429 {
			denials++
		} else {
			others++
		}
	}
	// The 100 requests take far less than a second, but a slow machine may
	// cross one second boundary: allow two lines, never more.
	if denials < 1 || denials > 2 || others != 1 {
		t.Errorf("100 × 429 and one 404 logged %d 429 lines and %d others; want 1–2 and 1", denials, others)
	}
}

func TestLoggingPanic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int64
	}{
		{"before writing", func(http.ResponseWriter, *http.Request) { panic("boom") }, 500},
		{"after writing", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(202); panic("boom") }, 202},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &capture{}
			h := httpkit.Logging(slog.New(c))(tc.handler)
			func() {
				defer func() {
					if v := recover(); v != "boom" {
						t.Errorf("panic value = %v; want boom, unchanged", v)
					}
				}()
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			}()
			r := c.all()[0]
			if r.level != slog.LevelError || !r.attrs["panic"].Bool() || r.attrs["status"].Int64() != tc.status {
				t.Errorf("record level %v, panic %v, status %v; want ERROR, true, %d", r.level, r.attrs["panic"], r.attrs["status"], tc.status)
			}
		})
	}
}

func TestLoggingDisabledLevel(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError}))
	h := httpkit.Logging(logger)(http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if buf.Len() != 0 {
		t.Errorf("logged %q at level Error+; want nothing for a 404", buf.String())
	}
}

func TestLoggingHijacked(t *testing.T) {
	t.Parallel()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	c := &capture{}
	h := httpkit.Logging(slog.New(c))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := http.NewResponseController(w).Hijack(); err != nil {
			t.Errorf("Hijack() = %v", err)
		}
	}))
	h.ServeHTTP(hijackRecorder{httptest.NewRecorder(), c1}, httptest.NewRequest("GET", "/ws", nil))
	attrs := c.all()[0].attrs
	if !attrs["hijacked"].Bool() {
		t.Errorf("hijacked = %v; want true", attrs["hijacked"])
	}
	if _, ok := attrs["status"]; ok {
		t.Errorf("status = %v logged for a hijacked connection; want absent", attrs["status"])
	}
}

// The access line names the direct peer, without its port.
func TestLoggingClient(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{"203.0.113.9:5555": "203.0.113.9", "[2001:db8::1]:443": "2001:db8::1", "@": "@"} {
		c := &capture{}
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = addr
		httpkit.Logging(slog.New(c))(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), req)
		if got := c.all()[0].attrs["client"].String(); got != want {
			t.Errorf("client for RemoteAddr %q = %q; want %q", addr, got, want)
		}
	}
}
