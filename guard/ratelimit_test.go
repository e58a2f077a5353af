package guard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/problem"
)

// rlStubLimiter returns canned answers.
type rlStubLimiter struct {
	d    guard.Decision
	err  error
	kind string
	keys []string
}

func (s *rlStubLimiter) Allow(_ context.Context, key string) (guard.Decision, error) {
	s.keys = append(s.keys, key)
	return s.d, s.err
}

type rlKindLimiter struct{ rlStubLimiter }

func (k *rlKindLimiter) Kind() string { return k.kind }

// rlHandler counts its calls and answers 200 "ok".
type rlHandler struct{ calls int }

func (h *rlHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.calls++
	_, _ = w.Write([]byte("ok"))
}

// rlCountingHandler is a rlHandler safe for concurrent use.
type rlCountingHandler struct{ n atomic.Int64 }

func (h *rlCountingHandler) ServeHTTP(http.ResponseWriter, *http.Request) { h.n.Add(1) }

func rlServe(t *testing.T, h http.Handler, remoteAddr string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/things", nil)
	req.RemoteAddr = remoteAddr
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRateLimitHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		limit      guard.Limit
		policyName string
		requests   int // the last one is checked
		wantStatus int
		wantPolicy string
		wantRL     string
		wantRetry  string
	}{
		{"allowed", guard.PerMinute(100), "", 1, 200, `"default";q=100;w=60`, `"default";r=99;t=1`, ""},
		{"allowed, third", guard.PerMinute(100), "", 3, 200, `"default";q=100;w=60`, `"default";r=97;t=2`, ""},
		{"denied after one per minute", guard.PerMinute(1), "", 2, 429, `"default";q=1;w=60`, `"default";r=0;t=60`, "60"},
		{"sub-second period scaled to one second", guard.Limit{Rate: 1, Per: 100 * time.Millisecond}, "", 1, 200, `"default";q=10;w=1`, `"default";r=0;t=1`, ""},
		{"period rounded up", guard.Limit{Rate: 3, Per: 1500 * time.Millisecond, Burst: 1}, "", 2, 429, `"default";q=4;w=2`, `"default";r=0;t=1`, "1"},
		{"retry after rounded up", guard.Limit{Rate: 2, Per: 3 * time.Second, Burst: 1}, "", 2, 429, `"default";q=2;w=3`, `"default";r=0;t=2`, "2"},
		{"named policy, escaped", guard.PerSecond(5), `per "ip" \ 5`, 1, 200, `"per \"ip\" \\ 5";q=5;w=1`, `"per \"ip\" \\ 5";r=4;t=1`, ""},
		// Names too long for the one-allocation header buffers.
		{"long policy name, allowed", guard.PerMinute(100), "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn", 1, 200, `"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";q=100;w=60`, `"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";r=99;t=1`, ""},
		{"long policy name, denied", guard.PerMinute(1), "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn", 2, 429, `"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";q=1;w=60`, `"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";r=0;t=60`, "60"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := fakeclock.New(memT0)
			next := &rlHandler{}
			h := guard.RateLimit(guard.RateLimitConfig{
				Limiter:       guard.NewMemoryLimiter(tc.limit, guard.WithClock(clk.Now)),
				Key:           guard.RemoteIP(),
				PolicyName:    tc.policyName,
				MeterProvider: sdkmetric.NewMeterProvider(),
			})(next)
			var rec *httptest.ResponseRecorder
			for range tc.requests {
				rec = rlServe(t, h, "192.0.2.1:1234")
			}
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d; want %d", rec.Code, tc.wantStatus)
			}
			for _, hc := range []struct{ name, want string }{
				{"RateLimit-Policy", tc.wantPolicy},
				{"RateLimit", tc.wantRL},
				{"Retry-After", tc.wantRetry},
			} {
				if got := rec.Header().Values(hc.name); strings.Join(got, "|") != hc.want {
					t.Errorf("%s = %q; want %q", hc.name, got, hc.want)
				}
			}
		})
	}
}

// TestRateLimitHeaderValuesKept: RateLimit values share arenas across
// requests; every value a response got stays as it was after later
// requests, including when a handler Adds to the header.
func TestRateLimitHeaderValuesKept(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(memT0)
	h := guard.RateLimit(guard.RateLimitConfig{
		Limiter: guard.NewMemoryLimiter(guard.PerMinute(1000), guard.WithClock(clk.Now)),
		Key:     guard.RemoteIP(),
	})(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Add("Ratelimit", "added")
	}))
	const n = 100 // several arenas
	var got [][]string
	for range n {
		got = append(got, rlServe(t, h, "192.0.2.1:1234").Header()["Ratelimit"])
	}
	for i, v := range got {
		want := []string{fmt.Sprintf(`"default";r=%d;t=%d`, 999-i, (i+1)*60/1000+1), "added"}
		if (i+1)*60%1000 == 0 {
			want[0] = fmt.Sprintf(`"default";r=%d;t=%d`, 999-i, (i+1)*60/1000)
		}
		if strings.Join(v, "|") != strings.Join(want, "|") {
			t.Errorf("response %d: RateLimit = %q; want %q", i, v, want)
		}
	}
}

func TestRateLimitDenied(t *testing.T) {
	t.Parallel()
	next := &rlHandler{}
	clk := fakeclock.New(memT0)
	h := guard.RateLimit(guard.RateLimitConfig{
		Limiter:       guard.NewMemoryLimiter(guard.PerMinute(2), guard.WithClock(clk.Now)),
		Key:           guard.RemoteIP(),
		MeterProvider: sdkmetric.NewMeterProvider(),
	})(next)
	var codes []int
	for _, addr := range []string{"192.0.2.1:1111", "192.0.2.1:2222", "192.0.2.1:3333", "[2001:db8::1]:1", "192.0.2.1:4444"} {
		codes = append(codes, rlServe(t, h, addr).Code)
	}
	if want := []int{200, 200, 429, 200, 429}; !rlEqualInts(codes, want) {
		t.Errorf("statuses = %v; want %v (ports do not make new clients)", codes, want)
	}
	if next.calls != 3 {
		t.Errorf("next called %d times; want 3", next.calls)
	}
	rec := rlServe(t, h, "192.0.2.1:5555")
	if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("Content-Type = %q; want %q", ct, problem.ContentType)
	}
	var body struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Status != 429 {
		t.Errorf("body = %s (%v); want a problem with status 429", rec.Body, err)
	}
	// Two per minute: the next slot is 30s after the first request.
	if got := rec.Header().Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After = %q; want 30", got)
	}
	clk.Advance(30 * time.Second)
	if rec := rlServe(t, h, "192.0.2.1:6666"); rec.Code != 200 {
		t.Errorf("after Retry-After: status %d; want 200", rec.Code)
	}
}

func rlEqualInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRateLimitExempt(t *testing.T) {
	t.Parallel()
	next := &rlHandler{}
	lim := &rlStubLimiter{d: guard.Decision{Allowed: false, Limit: guard.PerSecond(1), RetryAfter: time.Second}}
	h := guard.RateLimit(guard.RateLimitConfig{
		Limiter: lim,
		Key:     func(*http.Request) (string, error) { return "", errors.New("must not be called") },
		Exempt:  func(r *http.Request) bool { return r.URL.Path == "/livez" },
	})(next)
	req := httptest.NewRequest(http.MethodGet, "/livez", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || next.calls != 1 || len(lim.keys) != 0 {
		t.Errorf("exempt request: status %d, next calls %d, limiter calls %d; want 200, 1, 0", rec.Code, next.calls, len(lim.keys))
	}
	if v := rec.Header().Get("RateLimit"); v != "" {
		t.Errorf("exempt request: RateLimit = %q; want none", v)
	}
}

func TestRateLimitErrors(t *testing.T) {
	t.Parallel()
	errDown := errors.New("redis: connection refused")
	tests := []struct {
		name       string
		key        guard.KeyFunc
		limiter    guard.Limiter
		failClosed bool
		wantStatus int
		wantCalls  int
		wantLog    string
		wantCount  string // decision counted, or ""
	}{
		{"key error", guard.Header("X-User"), &rlStubLimiter{}, false, 400, 0, "level=WARN msg=\"guard: rate limit: cannot identify client\" error=\"guard: header X-User is missing or empty: guard: no key in request\"", ""},
		{"limiter error fails open", guard.RemoteIP(), &rlStubLimiter{err: errDown}, false, 200, 1, "level=ERROR msg=\"guard: rate limiter failed\" fail_closed=false error=\"redis: connection refused\"", "error"},
		{"limiter error fails closed", guard.RemoteIP(), &rlStubLimiter{err: errDown}, true, 503, 0, "level=ERROR msg=\"guard: rate limiter failed\" fail_closed=true error=\"redis: connection refused\"", "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			}))
			reader := sdkmetric.NewManualReader()
			next := &rlHandler{}
			h := guard.RateLimit(guard.RateLimitConfig{
				Limiter:       tc.limiter,
				Key:           tc.key,
				FailClosed:    tc.failClosed,
				Logger:        logger,
				MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
			})(next)
			rec := rlServe(t, h, "192.0.2.1:1234")
			if rec.Code != tc.wantStatus || next.calls != tc.wantCalls {
				t.Errorf("status %d, next calls %d; want %d, %d", rec.Code, next.calls, tc.wantStatus, tc.wantCalls)
			}
			if rec.Code >= 400 && rec.Header().Get("Content-Type") != problem.ContentType {
				t.Errorf("Content-Type = %q; want %q", rec.Header().Get("Content-Type"), problem.ContentType)
			}
			if strings.Contains(rec.Body.String(), "redis") || strings.Contains(rec.Body.String(), "X-User") {
				t.Errorf("body %s leaks the internal error", rec.Body)
			}
			if got := strings.TrimSpace(logs.String()); got != tc.wantLog {
				t.Errorf("log = %s; want %s", got, tc.wantLog)
			}
			if rec.Header().Get("RateLimit") != "" {
				t.Errorf("RateLimit = %q; want none without a decision", rec.Header().Get("RateLimit"))
			}
			got := rlDecisionCounts(t, reader)
			want := map[string]int64{}
			if tc.wantCount != "" {
				want[tc.wantCount+"/other"] = 1
			}
			if !rlEqualCounts(got, want) {
				t.Errorf("chassis.ratelimit.decisions = %v; want %v", got, want)
			}
		})
	}
}

func TestRateLimitDecisionsMetric(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	clk := fakeclock.New(memT0)
	mem := guard.RateLimit(guard.RateLimitConfig{
		Limiter:       guard.NewMemoryLimiter(guard.PerMinute(2), guard.WithClock(clk.Now)),
		Key:           guard.RemoteIP(),
		MeterProvider: mp,
	})(&rlHandler{})
	for range 5 {
		rlServe(t, mem, "192.0.2.7:1")
	}
	redis := guard.RateLimit(guard.RateLimitConfig{
		Limiter:       &rlKindLimiter{rlStubLimiter{d: guard.Decision{Allowed: true}, kind: "redis"}},
		Key:           guard.RemoteIP(),
		MeterProvider: mp,
	})(&rlHandler{})
	rlServe(t, redis, "192.0.2.7:1")
	want := map[string]int64{"allowed/memory": 2, "denied/memory": 3, "allowed/redis": 1}
	if got := rlDecisionCounts(t, reader); !rlEqualCounts(got, want) {
		t.Errorf("chassis.ratelimit.decisions = %v; want %v", got, want)
	}
}

// rlDecisionCounts returns chassis.ratelimit.decisions by "decision/limiter".
func rlDecisionCounts(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	data := rlFindMetric(rm, "chassis.ratelimit.decisions")
	if data == nil {
		return got
	}
	sum, ok := data.(metricdata.Sum[int64])
	if !ok || !sum.IsMonotonic {
		t.Fatalf("chassis.ratelimit.decisions is %T; want a monotonic Sum[int64]", data)
	}
	for _, dp := range sum.DataPoints {
		d, _ := dp.Attributes.Value(attribute.Key("chassis.decision"))
		l, _ := dp.Attributes.Value(attribute.Key("chassis.limiter"))
		if dp.Attributes.Len() != 2 {
			t.Errorf("data point attributes %v; want only chassis.decision and chassis.limiter", dp.Attributes.ToSlice())
		}
		if dp.Value != 0 {
			got[d.AsString()+"/"+l.AsString()] = dp.Value
		}
	}
	return got
}

func rlEqualCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRateLimitZeroLimitDecision(t *testing.T) {
	t.Parallel()
	// A Limiter that does not report its Limit: no RateLimit headers, but a
	// denial still gets Retry-After (at least 1).
	h := guard.RateLimit(guard.RateLimitConfig{
		Limiter: &rlStubLimiter{d: guard.Decision{Allowed: false}},
		Key:     guard.RemoteIP(),
	})(&rlHandler{})
	rec := rlServe(t, h, "192.0.2.1:1")
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "1" || rec.Header().Get("RateLimit-Policy") != "" {
		t.Errorf("status %d, Retry-After %q, RateLimit-Policy %q; want 429, 1, none", rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("RateLimit-Policy"))
	}
}

func TestRateLimitKeepsResponseController(t *testing.T) {
	t.Parallel()
	var flushErr error
	h := guard.RateLimit(guard.RateLimitConfig{
		Limiter: guard.NewMemoryLimiter(guard.PerSecond(10)),
		Key:     guard.RemoteIP(),
	})(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		flushErr = http.NewResponseController(w).Flush()
	}))
	rec := rlServe(t, h, "192.0.2.1:1")
	if flushErr != nil || !rec.Flushed {
		t.Errorf("Flush through RateLimit: err %v, flushed %v; want nil, true", flushErr, rec.Flushed)
	}
}

func TestRateLimitPanics(t *testing.T) {
	t.Parallel()
	lim := guard.NewMemoryLimiter(guard.PerSecond(1))
	tests := []struct {
		name string
		cfg  guard.RateLimitConfig
		want string
	}{
		{"nil limiter", guard.RateLimitConfig{Key: guard.RemoteIP()}, "guard.RateLimit: cfg.Limiter is nil; build one with guard.NewMemoryLimiter"},
		{"nil key", guard.RateLimitConfig{Limiter: lim}, "guard.RateLimit: cfg.Key is nil; use guard.RemoteIP() or guard.ClientIP(proxies...)"},
		{"bad policy name", guard.RateLimitConfig{Limiter: lim, Key: guard.RemoteIP(), PolicyName: "é"}, `guard.RateLimit: cfg.PolicyName "é" is not printable ASCII; use a plain name such as "default"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if got := recover(); got != tc.want {
					t.Errorf("RateLimit(%s) panicked with %v; want %q", tc.name, got, tc.want)
				}
			}()
			guard.RateLimit(tc.cfg)
		})
	}
}

func TestRateLimitConcurrent(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(memT0)
	next := &rlCountingHandler{}
	h := guard.RateLimit(guard.RateLimitConfig{
		Limiter: guard.NewMemoryLimiter(guard.Limit{Rate: 20, Per: time.Hour}, guard.WithClock(clk.Now)),
		Key:     guard.RemoteIP(),
	})(next)
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := srv.Client()
	defer client.CloseIdleConnections()
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 10 {
				resp, err := client.Get(srv.URL)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 && resp.StatusCode != 429 {
					errs <- errors.New(resp.Status)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := next.n.Load(); n != 20 {
		t.Errorf("80 requests from one client passed %d times; want exactly the burst of 20", n)
	}
}

// rlBenchWriter is a ResponseWriter whose header map is cleared between
// requests, so the benchmark measures the middleware, not a recorder.
type rlBenchWriter struct{ h http.Header }

func (w *rlBenchWriter) Header() http.Header         { return w.h }
func (w *rlBenchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *rlBenchWriter) WriteHeader(int)             {}

// BenchmarkRateLimitAllowed measures the allowed path: key, memory limiter,
// headers, metric, handler.
func BenchmarkRateLimitAllowed(b *testing.B) {
	mw := guard.RateLimit(guard.RateLimitConfig{
		Limiter: guard.NewMemoryLimiter(guard.Limit{Rate: 1 << 20, Per: time.Second, Burst: 1 << 30}),
		Key:     guard.RemoteIP(),
	})
	h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/things", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	w := &rlBenchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

// TestRateLimitKeyProblem: a KeyFunc error that wraps a *problem.Error is
// answered with that problem (the rule grpckit follows too), any other with
// 400; neither reaches the limiter or the handler.
func TestRateLimitKeyProblem(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"plain error", errors.New("no header"), http.StatusBadRequest},
		{"problem", fmt.Errorf("auth: %w", problem.Unauthorized("missing token")), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := &rlStubLimiter{d: guard.Decision{Allowed: true}}
			next := &rlHandler{}
			h := guard.RateLimit(guard.RateLimitConfig{
				Limiter: lim,
				Key:     func(*http.Request) (string, error) { return "", tt.err },
				Logger:  slog.New(slog.DiscardHandler),
			})(next)
			rec := rlServe(t, h, "192.0.2.1:1")
			if rec.Code != tt.status || next.calls != 0 || len(lim.keys) != 0 {
				t.Errorf("status %d, handler calls %d, limiter calls %d; want %d, 0, 0", rec.Code, next.calls, len(lim.keys), tt.status)
			}
		})
	}
}
