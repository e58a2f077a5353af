package call

// White-box tests: the backoff and sleep hooks, and parsers.

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/chassis-go/chassis/breaker"
	"github.com/chassis-go/chassis/internal/retryafter"
)

func noopMeterProvider() metric.MeterProvider { return noop.NewMeterProvider() }

func withSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(o *options) { o.sleep = f }
}

func withJitter(f func(n int64) int64) Option {
	return func(o *options) { o.jitter = f }
}

// maxJitter makes full jitter always pick the ceiling.
func maxJitter(n int64) int64 { return n - 1 }

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    RetryPolicy
		n    int
		want time.Duration
	}{
		{"defaults first", RetryPolicy{}, 1, 100 * time.Millisecond},
		{"defaults second", RetryPolicy{}, 2, 200 * time.Millisecond},
		{"defaults capped", RetryPolicy{}, 10, 5 * time.Second},
		{"attempt 62", RetryPolicy{}, 62, 5 * time.Second},
		{"attempt 63", RetryPolicy{}, 63, 5 * time.Second},
		{"attempt 64", RetryPolicy{}, 64, 5 * time.Second},
		{"attempt 1000", RetryPolicy{}, 1000, 5 * time.Second},
		{"huge base capped by max", RetryPolicy{BaseDelay: math.MaxInt64 / 2, MaxDelay: math.MaxInt64}, 3, math.MaxInt64 - 1},
		{"max delay MaxInt64 attempt 1000", RetryPolicy{BaseDelay: 1, MaxDelay: math.MaxInt64}, 1000, math.MaxInt64 - 1},
		{"base larger than default max", RetryPolicy{BaseDelay: 10 * time.Second}, 1, 10 * time.Second},
		{"1ns base", RetryPolicy{BaseDelay: 1, MaxDelay: time.Second}, 5, 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRetryer(tc.p, maxJitter)
			if got := r.backoff(tc.n); got != tc.want {
				t.Errorf("backoff(%d) with %+v = %v; want %v", tc.n, tc.p, got, tc.want)
			}
			zero := newRetryer(tc.p, func(int64) int64 { return 0 })
			if got := zero.backoff(tc.n); got != 0 {
				t.Errorf("backoff(%d) with zero jitter = %v; want 0", tc.n, got)
			}
		})
	}
}

func TestBackoff_realJitterInRange(t *testing.T) {
	t.Parallel()
	r := newRetryer(RetryPolicy{}, nil)
	for n := 1; n <= 1000; n++ {
		ceil := min(defaultMaxDelay, defaultBaseDelay<<min(n-1, 20))
		if d := r.backoff(n); d < 0 || d > ceil {
			t.Fatalf("backoff(%d) = %v; want in [0, %v]", n, d, ceil)
		}
	}
}

// failing503 answers 503, with a Retry-After header if retryAfter is set.
func failing503(t *testing.T, retryAfter string) (*httptest.Server, *int) {
	t.Helper()
	var mu sync.Mutex
	hits := 0
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(s.Close)
	return s, &hits
}

func TestSleep_neverPastDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter string
		policy     RetryPolicy
		want       []time.Duration
	}{
		{"backoff stops before the deadline", "",
			RetryPolicy{MaxAttempts: 10, BaseDelay: time.Second, MaxDelay: time.Hour},
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"Retry-After beyond the deadline is not waited", "20",
			RetryPolicy{MaxAttempts: 10}, nil},
		{"Retry-After within the deadline is waited", "3",
			RetryPolicy{MaxAttempts: 3},
			[]time.Duration{3 * time.Second, 3 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, hits := failing503(t, tc.retryAfter)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			dl, _ := ctx.Deadline()
			var mu sync.Mutex
			var slept []time.Duration
			c := New(
				WithRetry(tc.policy),
				WithRetryBudget(RetryBudget{Unlimited: true}),
				withJitter(maxJitter),
				withSleep(func(ctx context.Context, d time.Duration) error {
					mu.Lock()
					defer mu.Unlock()
					if left := time.Until(dl); d > left {
						t.Errorf("sleep(%v) requested with only %v left before the deadline", d, left)
					}
					slept = append(slept, d)
					return ctx.Err()
				}))
			defer c.CloseIdleConnections()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("Do(GET) err = %v; want the last 503", err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("Do(GET) status = %d; want 503", resp.StatusCode)
			}
			mu.Lock()
			defer mu.Unlock()
			if !equalDurations(slept, tc.want) {
				t.Errorf("Do(GET) slept %v; want %v", slept, tc.want)
			}
			if *hits != len(tc.want)+1 {
				t.Errorf("Do(GET) server hits = %d; want %d", *hits, len(tc.want)+1)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
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

func TestSleep_cancelDuringBackoff(t *testing.T) {
	t.Parallel()
	s, _ := failing503(t, "")
	sleeping := make(chan struct{})
	c := New(withSleep(func(ctx context.Context, d time.Duration) error {
		close(sleeping)
		<-ctx.Done()
		return ctx.Err()
	}))
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	done := make(chan error, 1)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		done <- err
	}()
	<-sleeping
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Do(GET) cancelled during backoff err = %v; want context.Canceled", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"120", 2 * time.Minute, true},
		{"99999999999999999999999", math.MaxInt64, true},
		{"9223372037", math.MaxInt64, true},
		{"9223372036", 9223372036 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"+3", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"Sat, 01 Mar 2025 12:00:30 GMT", 30 * time.Second, true},
		{"Sat, 01 Mar 2025 11:00:00 GMT", 0, true},
		{"Saturday, 01-Mar-25 12:01:00 GMT", time.Minute, true},
		{"Sat Mar  1 12:00:05 2025", 5 * time.Second, true},
		{"Sat, 01 Mar 2025 12:00:30 PST", 0, false},
	}
	for _, tc := range tests {
		got, ok := retryafter.Parse(tc.in, now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("retryafter.Parse(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", "99999999999999999999", "Sat, 01 Mar 2025 12:00:30 GMT",
		"Saturday, 01-Mar-25 12:01:00 GMT", "Sat Mar  1 12:00:05 2025", " 5", "1e3", ""} {
		f.Add(s)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := retryafter.Parse(v, now)
		if d < 0 {
			t.Fatalf("retryafter.Parse(%q) = %v; want >= 0", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("retryafter.Parse(%q) = %v, false; want 0 when invalid", v, d)
		}
	})
}

func TestHeaderValue(t *testing.T) {
	t.Parallel()
	h := http.Header{"Retry-After": {"1", "2"}, "Authorization": {""}, "Idempotency-Key": nil}
	h["lower-case"] = []string{"raw"} // not canonical: Get does not find it either
	for _, key := range []string{"Retry-After", "Authorization", "Idempotency-Key", "Missing", "Lower-Case"} {
		if got, want := headerValue(h, key), h.Get(key); got != want {
			t.Errorf("headerValue(h, %q) = %q; want %q (as Header.Get)", key, got, want)
		}
	}
}

func TestURLFull(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8080/a/b", "http://127.0.0.1:8080/a/b"},
		{"http://h/a?token=s3cret&x=1", "http://h/a"},
		{"http://h/a#frag", "http://h/a"},
		{"https://user:pw@h.example/a?x", "https://h.example/a"},
		{"https://user@h.example", "https://h.example"},
		{"https://h.example/p%20th/x", "https://h.example/p%20th/x"},
		{"mailto:someone@example.com?subject=x", "mailto://"},
	}
	for _, tc := range tests {
		u, err := url.Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := urlFull(u); got != tc.want {
			t.Errorf("urlFull(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestAttemptBody_releasesOnEOFAndClose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		use  func(io.ReadCloser)
	}{
		{"read to EOF", func(b io.ReadCloser) { _, _ = io.ReadAll(b) }},
		{"close unread", func(b io.ReadCloser) { _ = b.Close() }},
		{"read then close", func(b io.ReadCloser) { _, _ = b.Read(make([]byte, 1)); _ = b.Close() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			b := &attemptBody{rc: io.NopCloser(strings.NewReader("hello")), cancel: cancel}
			if ctx.Err() != nil {
				t.Fatal("attempt context cancelled before use")
			}
			tc.use(b)
			if ctx.Err() == nil {
				t.Errorf("%s: attempt context still live; want it cancelled", tc.name)
			}
		})
	}
}

// BenchmarkBreaker measures Allow+done: "core" on one breaker (what
// gobreaker's Execute does), "lookup" with the per-host lookup a request
// pays on top.
func BenchmarkBreaker(b *testing.B) {
	for _, tc := range []struct {
		name string
		p    BreakerPolicy
		open bool
	}{
		{"closed", BreakerPolicy{}, false},
		{"closed_ratio", BreakerPolicy{FailureRatio: 0.5}, false},
		{"open", BreakerPolicy{}, true},
	} {
		set := newBreakerSet(tc.p, time.Now, newInstruments(noopMeterProvider(), tracenoop.NewTracerProvider(), propagation.TraceContext{}))
		br := set.get("api.example.com")
		if tc.open {
			for range 5 {
				done, _ := br.Allow()
				done(breaker.Failure)
			}
		}
		once := func(br *hostBreaker) {
			done, err := br.Allow()
			if err == nil {
				done(breaker.Success)
			}
			if (err == nil) == tc.open {
				b.Fatalf("Allow() = %v; want open %v", err, tc.open)
			}
		}
		b.Run(tc.name+"/core", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				once(br)
			}
		})
		b.Run(tc.name+"/lookup", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				once(set.get("api.example.com"))
			}
		})
	}
}

func BenchmarkBreakerParallel(b *testing.B) {
	set := newBreakerSet(BreakerPolicy{}, time.Now, newInstruments(noopMeterProvider(), tracenoop.NewTracerProvider(), propagation.TraceContext{}))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			done, err := set.get("api.example.com").Allow()
			if err == nil {
				done(breaker.Success)
			}
		}
	})
}
