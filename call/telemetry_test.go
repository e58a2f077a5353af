package call_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

// telemetry collects a Client's spans and metrics.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		_ = tel.tp.Shutdown(context.Background())
		_ = tel.mp.Shutdown(context.Background())
	})
	return tel
}

func (tel *telemetry) options() []call.Option {
	return []call.Option{call.WithTracerProvider(tel.tp), call.WithMeterProvider(tel.mp),
		call.WithPropagators(propagation.TraceContext{})}
}

// metric returns the named metric, or nil.
func (tel *telemetry) metric(t *testing.T, name string) *metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	for _, sm := range rm.ScopeMetrics {
		for i := range sm.Metrics {
			if sm.Metrics[i].Name == name {
				return &sm.Metrics[i]
			}
		}
	}
	return nil
}

// counter sums the named Int64 counter's points whose attributes include
// the given key=value (or all points if key is empty).
func (tel *telemetry) counter(t *testing.T, name, key, value string) int64 {
	t.Helper()
	m := tel.metric(t, name)
	if m == nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("metric %s is %T; want an int64 sum", name, m.Data)
	}
	var n int64
	for _, dp := range sum.DataPoints {
		if key == "" {
			n += dp.Value
			continue
		}
		if v, ok := dp.Attributes.Value(attribute.Key(key)); ok && v.AsString() == value {
			n += dp.Value
		}
	}
	return n
}

func attr(attrs []attribute.KeyValue, key string) (attribute.Value, bool) {
	for _, a := range attrs {
		if string(a.Key) == key {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

func TestTelemetry_spansPerAttempt(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var traceparents []string
	seq := sequence(503)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		traceparents = append(traceparents, r.Header.Get("Traceparent"))
		mu.Unlock()
		seq(w, r)
	})
	tel := newTelemetry(t)
	c := newClient(t, append(tel.options(), call.WithRetry(fastRetry))...)

	ctx, parent := tel.tp.Tracer("test").Start(context.Background(), "parent")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/users/42?token=s3cret#frag", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	parent.End()
	if req.Header.Get("Traceparent") != "" {
		t.Errorf("caller's request got a traceparent header; want it untouched")
	}

	mu.Lock()
	defer mu.Unlock()
	var attempts []sdktrace.ReadOnlySpan
	for _, sp := range tel.spans.Ended() {
		if sp.SpanKind() == trace.SpanKindClient {
			attempts = append(attempts, sp)
		}
	}
	if len(attempts) != 2 {
		t.Fatalf("client spans = %d; want 2 (one per attempt)", len(attempts))
	}
	for i, sp := range attempts {
		if sp.Name() != "GET" {
			t.Errorf("span %d name = %q; want GET", i, sp.Name())
		}
		if sp.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %d parent = %v; want the caller's span", i, sp.Parent().SpanID())
		}
		u, _ := attr(sp.Attributes(), "url.full")
		if want := s.URL + "/users/42"; u.AsString() != want {
			t.Errorf("span %d url.full = %q; want %q (no query, no fragment)", i, u.AsString(), want)
		}
		for _, a := range sp.Attributes() {
			if strings.Contains(a.Value.String(), "s3cret") {
				t.Errorf("span %d attribute %s = %q leaks the query string", i, a.Key, a.Value.String())
			}
		}
		if v, _ := attr(sp.Attributes(), "http.request.method"); v.AsString() != "GET" {
			t.Errorf("span %d http.request.method = %q; want GET", i, v.AsString())
		}
		if v, _ := attr(sp.Attributes(), "server.address"); v.AsString() != "127.0.0.1" {
			t.Errorf("span %d server.address = %q; want 127.0.0.1", i, v.AsString())
		}
		want := traceparentOf(sp.SpanContext())
		if i < len(traceparents) && traceparents[i] != want {
			t.Errorf("attempt %d traceparent = %q; want %q (the attempt's span)", i, traceparents[i], want)
		}
	}
	if v, _ := attr(attempts[0].Attributes(), "http.response.status_code"); v.AsInt64() != 503 {
		t.Errorf("first span status code = %d; want 503", v.AsInt64())
	}
	if attempts[0].Status().Code != codes.Error {
		t.Errorf("first span status = %v; want Error", attempts[0].Status())
	}
	if _, ok := attr(attempts[0].Attributes(), "http.request.resend_count"); ok {
		t.Errorf("first span has http.request.resend_count; want it only on retries")
	}
	if v, _ := attr(attempts[1].Attributes(), "http.request.resend_count"); v.AsInt64() != 1 {
		t.Errorf("second span http.request.resend_count = %d; want 1", v.AsInt64())
	}
	if v, _ := attr(attempts[1].Attributes(), "http.response.status_code"); v.AsInt64() != 200 {
		t.Errorf("second span status code = %d; want 200", v.AsInt64())
	}

	if got := tel.counter(t, "chassis.call.retries", "http.request.method", "GET"); got != 1 {
		t.Errorf("chassis.call.retries{GET} = %d; want 1", got)
	}
	m := tel.metric(t, "http.client.request.duration")
	if m == nil {
		t.Fatal("http.client.request.duration not recorded")
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("http.client.request.duration is %T; want a float64 histogram", m.Data)
	}
	var count uint64
	for _, dp := range h.DataPoints {
		count += dp.Count
		for _, kv := range dp.Attributes.ToSlice() {
			if strings.Contains(kv.Value.String(), "users/42") {
				t.Errorf("duration attribute %s = %q carries the URL path", kv.Key, kv.Value.String())
			}
		}
	}
	if count != 2 || m.Unit != "s" {
		t.Errorf("http.client.request.duration count = %d, unit %q; want 2, s", count, m.Unit)
	}
}

func traceparentOf(sc trace.SpanContext) string {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
	return carrier.Get("traceparent")
}

func TestTelemetry_spanEndsWithBody(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") })
	tel := newTelemetry(t)
	c := newClient(t, tel.options()...)
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tel.spans.Ended()); n != 0 {
		t.Errorf("ended spans before the body is read = %d; want 0", n)
	}
	_, _ = io.ReadAll(resp.Body)
	if n := len(tel.spans.Ended()); n != 1 {
		t.Errorf("ended spans after reading the body to EOF = %d; want 1", n)
	}
	_ = resp.Body.Close()
	if n := len(tel.spans.Ended()); n != 1 {
		t.Errorf("ended spans after Close = %d; want still 1", n)
	}
}

func TestTelemetry_breakerAndBudgetCounters(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	tel := newTelemetry(t)
	clk := fakeclock.New(epoch)
	c := newClient(t, append(tel.options(), call.WithClock(clk.Now),
		call.WithRetry(call.RetryPolicy{MaxAttempts: 2, BaseDelay: 1, MaxDelay: 1}),
		call.WithRetryBudget(call.RetryBudget{Ratio: -1, MinPerSecond: 0.1, Window: 10 * time.Second}), // 1 retry per 10s
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 3}))...)
	// Call 1: attempt + retry (budget spent). Call 2: one attempt, budget
	// exhausted; the breaker opens on its 3rd failure. Call 3: rejected.
	for range 3 {
		_, _ = get(c, s.URL)
	}
	if got := s.hits.Load(); got != 3 {
		t.Errorf("server hits = %d; want 3", got)
	}
	checks := []struct {
		name, key, value string
		want             int64
	}{
		{"chassis.call.retries", "http.request.method", "GET", 1},
		{"chassis.call.retry_budget.exhausted", "", "", 1},
		{"chassis.call.breaker.transitions", "chassis.breaker.state", "open", 1},
		{"chassis.call.breaker.rejections", "", "", 1},
	}
	for _, ch := range checks {
		if got := tel.counter(t, ch.name, ch.key, ch.value); got != ch.want {
			t.Errorf("%s{%s=%s} = %d; want %d", ch.name, ch.key, ch.value, got, ch.want)
		}
	}
}

func TestTelemetry_noSDKNoHeaderCopy(t *testing.T) {
	t.Parallel()
	// Without an SDK nothing is propagated, and the caller's headers reach
	// the server as they are.
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Traceparent") != "" {
			w.WriteHeader(http.StatusTeapot)
		}
	})
	c := newClient(t)
	if st, err := get(c, s.URL); err != nil || st != 200 {
		t.Errorf("get = %d, %v; want 200, nil", st, err)
	}
}

func TestTelemetry_spanAndTimerEndOnPanic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		base  roundTripFunc
		check func(resp *http.Response, err error) bool // IsFailure
	}{
		{"base transport", func(r *http.Request) (*http.Response, error) { panic("transport panic") }, nil},
		{"IsFailure", func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
		}, func(*http.Response, error) bool { panic("IsFailure panic") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tel := newTelemetry(t)
			var attemptCtx context.Context
			base := func(r *http.Request) (*http.Response, error) {
				attemptCtx = r.Context()
				return tc.base(r)
			}
			opts := append(tel.options(), call.WithTransport(roundTripFunc(base)), call.WithTimeout(time.Hour))
			if tc.check != nil {
				opts = append(opts, call.WithBreaker(call.BreakerPolicy{IsFailure: tc.check}))
			}
			c := newClient(t, opts...)
			req, _ := http.NewRequest(http.MethodGet, "http://svc.test/", nil)
			if !mustPanic(func() { _, _ = c.Transport().RoundTrip(req) }) {
				t.Fatal("RoundTrip did not panic")
			}
			ended := tel.spans.Ended()
			if len(ended) != 1 || ended[0].Status().Code != codes.Error {
				t.Errorf("ended spans after a panic = %d (status %v); want 1 with status Error", len(ended), ended)
			}
			select {
			case <-attemptCtx.Done():
			default:
				t.Errorf("attempt context not cancelled after a panic: its timer still runs")
			}
		})
	}
}
