package integration_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/httpkit"
)

// TestTracePropagation sends requests with call.Client to a server behind
// httpkit.Tracing, with an SDK tracer provider and the W3C propagator passed
// explicitly (no globals), and checks the spans on both sides.
func TestTracePropagation(t *testing.T) {
	stacks := []struct {
		name  string
		build func(mux http.Handler, opts ...httpkit.TracingOption) http.Handler
	}{
		{"Tracing(mux)", func(mux http.Handler, opts ...httpkit.TracingOption) http.Handler {
			return httpkit.Tracing(opts...)(mux)
		}},
		// guard.Timeout runs the mux on a request of its own (r.WithContext),
		// so Tracing never sees the Request.Pattern the mux sets.
		{"Tracing(guard.Timeout(mux))", func(mux http.Handler, opts ...httpkit.TracingOption) http.Handler {
			return httpkit.Tracing(opts...)(guard.Timeout(time.Minute)(mux))
		}},
		// guard.MaxBody does the same (a shallow copy) for requests with a body.
		{"Tracing(guard.MaxBody(mux))", func(mux http.Handler, opts ...httpkit.TracingOption) http.Handler {
			return httpkit.Tracing(opts...)(guard.MaxBody(1 << 10)(mux))
		}},
	}
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			sink := newSpanSink()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sink))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			prop := propagation.TraceContext{}

			var flaky atomic.Int32
			mux := http.NewServeMux()
			mux.HandleFunc("PUT /users/{id}", func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusNoContent)
			})
			mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
				switch r.PathValue("id") {
				case "boom":
					http.Error(w, "boom", http.StatusInternalServerError)
				case "flaky":
					if flaky.Add(1) <= 2 {
						http.Error(w, "try again", http.StatusServiceUnavailable)
						return
					}
					_, _ = w.Write([]byte("ok"))
				default:
					_, _ = w.Write([]byte("ok"))
				}
			})
			srv := httptest.NewServer(st.build(mux, httpkit.WithTracerProvider(tp), httpkit.WithPropagators(prop)))
			t.Cleanup(srv.Close)

			client := call.New(
				call.WithTracerProvider(tp),
				call.WithPropagators(prop),
				call.WithRetry(call.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}),
				call.WithRetryBudget(call.RetryBudget{Unlimited: true}),
			)
			t.Cleanup(client.CloseIdleConnections)
			tracer := tp.Tracer("integration")

			cases := []struct {
				name       string
				method     string
				id         string
				wantStatus int
				attempts   int
			}{
				{"ok", http.MethodGet, "42", http.StatusOK, 1},
				{"server error", http.MethodGet, "boom", http.StatusInternalServerError, 1},
				{"retried", http.MethodGet, "flaky", http.StatusOK, 3},
				{"with body", http.MethodPut, "42", http.StatusNoContent, 1},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ctx, root := tracer.Start(context.Background(), "test "+tc.name)
					traceID := root.SpanContext().TraceID()
					url := srv.URL + "/users/" + tc.id + "?token=secret"
					var body io.Reader
					if tc.method == http.MethodPut {
						body = strings.NewReader(`{"name":"x"}`)
					}
					req, err := http.NewRequestWithContext(ctx, tc.method, url, body)
					if err != nil {
						t.Fatal(err)
					}
					resp, err := client.Do(req)
					if err != nil {
						t.Fatalf("Client.Do(%s %s) err = %v", tc.method, url, err)
					}
					_ = resp.Body.Close()
					root.End()
					if resp.StatusCode != tc.wantStatus {
						t.Fatalf("Client.Do(%s %s) status = %d; want %d", tc.method, url, resp.StatusCode, tc.wantStatus)
					}

					// Server spans end after the response reached the client.
					spans := sink.waitFor(t, "the client and server spans", func(spans []sdktrace.ReadOnlySpan) bool {
						in := inTrace(spans, traceID)
						return len(ofKind(in, trace.SpanKindClient)) == tc.attempts && len(ofKind(in, trace.SpanKindServer)) == tc.attempts
					})
					checkTrace(t, inTrace(spans, traceID), root.SpanContext(), tc.method, tc.attempts, tc.wantStatus)
				})
			}
		})
	}
}

func inTrace(spans []sdktrace.ReadOnlySpan, id trace.TraceID) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanContext().TraceID() == id {
			out = append(out, s)
		}
	}
	return out
}

func ofKind(spans []sdktrace.ReadOnlySpan, k trace.SpanKind) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == k {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// checkTrace checks the spans of one call: attempts client spans, children
// of root and ordered by http.request.resend_count, each the parent of one
// server span named after the route.
func checkTrace(t *testing.T, spans []sdktrace.ReadOnlySpan, root trace.SpanContext, method string, attempts, status int) {
	t.Helper()
	for _, s := range spans {
		if s.Name() == "" || strings.ContainsAny(s.Name(), "?") || strings.Contains(s.Name(), "42") {
			t.Errorf("span name %q: want a route, never a raw path or query", s.Name())
		}
		for _, kv := range s.Attributes() {
			if v := kv.Value.String(); strings.Contains(v, "secret") || strings.Contains(v, "token=") {
				t.Errorf("%s span %q attribute %s = %q; want no query string", s.SpanKind(), s.Name(), kv.Key, v)
			}
		}
	}

	clients := ofKind(spans, trace.SpanKindClient)
	slices.SortFunc(clients, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	byID := map[trace.SpanID]int{}
	for i, c := range clients {
		byID[c.SpanContext().SpanID()] = i
		if c.Parent().SpanID() != root.SpanID() {
			t.Errorf("client span %d parent = %v; want the caller's span %v", i, c.Parent().SpanID(), root.SpanID())
		}
		rc, ok := attr(c, "http.request.resend_count")
		switch {
		case i == 0 && ok:
			t.Errorf("first client span http.request.resend_count = %v; want absent", rc.String())
		case i > 0 && (!ok || rc.AsInt64() != int64(i)):
			t.Errorf("client span %d http.request.resend_count = %v (present %v); want %d", i, rc.String(), ok, i)
		}
	}
	if len(clients) != attempts {
		t.Errorf("client spans = %d; want %d (one per attempt)", len(clients), attempts)
	}

	servers := ofKind(spans, trace.SpanKindServer)
	parents := map[int]bool{}
	for _, s := range servers {
		i, ok := byID[s.Parent().SpanID()]
		if !ok {
			t.Errorf("server span %q parent = %v; want one of the client spans", s.Name(), s.Parent().SpanID())
			continue
		}
		if !s.Parent().IsRemote() {
			t.Errorf("server span %q parent IsRemote = false; want true (extracted from traceparent)", s.Name())
		}
		parents[i] = true
		if got, want := s.Name(), method+" /users/{id}"; got != want {
			t.Errorf("server span name = %q; want %q", got, want)
		}
		if v, _ := attr(s, "http.route"); v.AsString() != "/users/{id}" {
			t.Errorf("server span http.route = %q; want %q", v.String(), "/users/{id}")
		}
	}
	if len(parents) != attempts {
		t.Errorf("client spans with a server child = %d; want %d", len(parents), attempts)
	}

	// The last attempt decided the outcome.
	last := servers[0]
	for _, s := range servers {
		if s.StartTime().After(last.StartTime()) {
			last = s
		}
	}
	wantCode := codes.Unset
	if status >= 500 {
		wantCode = codes.Error
	}
	if got := last.Status().Code; got != wantCode {
		t.Errorf("server span status for %d = %v; want %v", status, got, wantCode)
	}
	if v, _ := attr(last, "http.response.status_code"); v.AsInt64() != int64(status) {
		t.Errorf("server span http.response.status_code = %v; want %d", v.String(), status)
	}
}
