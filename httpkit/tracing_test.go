package httpkit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/chassis-go/chassis/httpkit"
)

type tracingEnv struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	opts   []httpkit.TracingOption
}

func newTracingEnv(t *testing.T) *tracingEnv {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return &tracingEnv{spans: rec, reader: reader, opts: []httpkit.TracingOption{
		httpkit.WithTracerProvider(tp), httpkit.WithMeterProvider(mp), httpkit.WithPropagators(propagation.TraceContext{}),
	}}
}

func (e *tracingEnv) onlySpan(t *testing.T) sdktrace.ReadOnlySpan {
	t.Helper()
	ended := e.spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans ended; want 1", len(ended))
	}
	return ended[0]
}

func attrMap(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET example.com/users/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	mux.HandleFunc("GET /bad", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(422) })
	mux.HandleFunc("/any", func(w http.ResponseWriter, r *http.Request) {})
	return mux
}

func TestTracingSpan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		chain      func(opts []httpkit.TracingOption) func(http.Handler) http.Handler
		method     string
		target     string
		spanName   string
		route      string
		statusCode codes.Code
	}{
		{"route", direct, "GET", "http://example.com/users/42?token=s3cret", "GET /users/{id}", "/users/{id}", codes.Unset},
		{"no route", direct, "GET", "/nowhere?token=s3cret", "GET", "", codes.Unset},
		{"5xx is error", direct, "POST", "/fail", "POST /fail", "/fail", codes.Error},
		{"4xx is not", direct, "GET", "/bad", "GET /bad", "/bad", codes.Unset},
		{"custom method", direct, "PURGE", "/any", "HTTP /any", "/any", codes.Unset},
		{"mux behind a request-replacing middleware", func(opts []httpkit.TracingOption) func(http.Handler) http.Handler {
			return httpkit.Chain(httpkit.Tracing(opts...), replaceRequest, httpkit.RequestID)
		}, "GET", "http://example.com/users/42", "GET /users/{id}", "/users/{id}", codes.Unset},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newTracingEnv(t)
			h := tc.chain(env.opts)(testMux())
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.target, nil))
			span := env.onlySpan(t)
			if span.Name() != tc.spanName {
				t.Errorf("span name = %q; want %q", span.Name(), tc.spanName)
			}
			attrs := attrMap(span.Attributes())
			if got := attrs["http.route"].AsString(); got != tc.route {
				t.Errorf("http.route = %q; want %q", got, tc.route)
			}
			if span.Status().Code != tc.statusCode {
				t.Errorf("span status = %v; want %v", span.Status().Code, tc.statusCode)
			}
			for k, v := range attrs {
				if strings.Contains(v.String(), "s3cret") || strings.Contains(v.String(), "token") {
					t.Errorf("attribute %s = %q leaks the query string", k, v.String())
				}
			}
			if _, ok := attrs["url.query"]; ok {
				t.Errorf("url.query recorded")
			}
		})
	}
}

func direct(opts []httpkit.TracingOption) func(http.Handler) http.Handler {
	return httpkit.Tracing(opts...)
}

func TestTracingMetricsRoute(t *testing.T) {
	t.Parallel()
	for _, behind := range []bool{false, true} {
		t.Run(map[bool]string{false: "mux inside", true: "mux behind a request-replacing middleware"}[behind], func(t *testing.T) {
			t.Parallel()
			env := newTracingEnv(t)
			var h http.Handler = testMux()
			if behind {
				h = httpkit.Chain(replaceRequest, httpkit.RequestID)(h)
			}
			h = httpkit.Tracing(env.opts...)(h)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://example.com/users/1?q=secret", nil))

			var rm metricdata.ResourceMetrics
			if err := env.reader.Collect(context.Background(), &rm); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name != "http.server.request.duration" {
						continue
					}
					found = true
					dps := m.Data.(metricdata.Histogram[float64]).DataPoints
					if len(dps) != 1 {
						t.Fatalf("%d data points; want 1", len(dps))
					}
					route, _ := dps[0].Attributes.Value("http.route")
					status, _ := dps[0].Attributes.Value("http.response.status_code")
					if route.AsString() != "/users/{id}" || status.AsInt64() != 200 {
						t.Errorf("duration attributes http.route=%q status=%d; want /users/{id}, 200", route.AsString(), status.AsInt64())
					}
				}
			}
			if !found {
				t.Error("no http.server.request.duration metric recorded")
			}
		})
	}
}

func TestTracingPanic(t *testing.T) {
	t.Parallel()
	env := newTracingEnv(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom/{n}", func(http.ResponseWriter, *http.Request) { panic("boom") })
	h := httpkit.Tracing(env.opts...)(mux)
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("panic = %v; want boom, unchanged", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/boom/1", nil))
	}()
	span := env.onlySpan(t)
	if span.Status().Code != codes.Error || span.Name() != "GET /boom/{n}" {
		t.Errorf("span after panic: %q, status %v; want \"GET /boom/{n}\", Error", span.Name(), span.Status())
	}
}

func TestTracingParentFromHeaders(t *testing.T) {
	t.Parallel()
	env := newTracingEnv(t)
	h := httpkit.Tracing(env.opts...)(http.NotFoundHandler())
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	span := env.onlySpan(t)
	if got := span.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace id = %s; want the inbound one", got)
	}
	if got := span.Parent().SpanID().String(); got != "00f067aa0ba902b7" {
		t.Errorf("parent span id = %s; want 00f067aa0ba902b7", got)
	}
}

func TestTracingFilter(t *testing.T) {
	t.Parallel()
	env := newTracingEnv(t)
	opts := append(env.opts, httpkit.WithTracingFilter(func(r *http.Request) bool { return r.URL.Path != "/livez" }))
	h := httpkit.Tracing(opts...)(testMux())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/livez", nil))
	if n := len(env.spans.Ended()); n != 0 {
		t.Errorf("%d spans for a filtered request; want 0", n)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/bad", nil))
	if n := len(env.spans.Ended()); n != 1 {
		t.Errorf("%d spans for a kept request; want 1", n)
	}
}

// durationPoints returns the data points of http.server.request.duration.
func durationPoints(t *testing.T, reader *sdkmetric.ManualReader) []metricdata.HistogramDataPoint[float64] {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "http.server.request.duration" {
				return m.Data.(metricdata.Histogram[float64]).DataPoints
			}
		}
	}
	t.Fatal("no http.server.request.duration metric recorded")
	return nil
}

// A client that sends many distinct Host headers must not create a metric
// series for each (cardinality poisoning).
func TestTracingMetricsIgnoreHost(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "api.example.com"} {
		t.Run("server name "+name, func(t *testing.T) {
			env := newTracingEnv(t)
			opts := env.opts
			if name != "" {
				opts = append(opts, httpkit.WithServerName(name))
			}
			var sawHost []string
			mux := http.NewServeMux()
			mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) { sawHost = append(sawHost, r.Host) })
			h := httpkit.Tracing(opts...)(mux)
			for i := range 50 {
				req := httptest.NewRequest("GET", "/users/1", nil)
				req.Host = fmt.Sprintf("attacker-%d.example", i)
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			dps := durationPoints(t, env.reader)
			if len(dps) != 1 {
				t.Fatalf("50 distinct Host headers gave %d series; want 1", len(dps))
			}
			addr, _ := dps[0].Attributes.Value("server.address")
			if addr.AsString() != name {
				t.Errorf("server.address = %q; want %q", addr.AsString(), name)
			}
			if len(sawHost) != 50 || sawHost[49] != "attacker-49.example" {
				t.Errorf("handler saw hosts %v; want the request's own Host", sawHost[len(sawHost)-1:])
			}
		})
	}
}

// The reference wiring: a root mux whose "/" leads through the middleware
// to an API mux. The metrics must carry the API route, not "/".
func TestTracingMetricsRouteBehindRootMux(t *testing.T) {
	t.Parallel()
	env := newTracingEnv(t)
	api := testMux()
	root := http.NewServeMux()
	root.Handle("/", httpkit.Chain(httpkit.RequestID, httpkit.Tracing(env.opts...))(api))
	root.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/users/1", nil))
	dps := durationPoints(t, env.reader)
	if len(dps) != 1 {
		t.Fatalf("%d series; want 1", len(dps))
	}
	if route, _ := dps[0].Attributes.Value("http.route"); route.AsString() != "/users/{id}" {
		t.Errorf("http.route = %q; want /users/{id}", route.AsString())
	}
	if name := env.onlySpan(t).Name(); name != "GET /users/{id}" {
		t.Errorf("span name = %q; want GET /users/{id}", name)
	}
}
