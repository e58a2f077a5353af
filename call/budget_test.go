package call_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/retry"
)

func TestRetryBudget_boundsRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		budget   call.RetryBudget
		requests int
		advance  time.Duration // clock step after the first half of the requests
		wantHits int64
	}{
		// 20% of 100 requests: 20 retries, however many attempts are allowed.
		{"ratio only", call.RetryBudget{Ratio: 0.2, MinPerSecond: -1}, 100, 0, 120},
		// A floor of 1/s over 10s: 10 retries for any number of requests.
		{"floor only", call.RetryBudget{Ratio: -1, MinPerSecond: 1}, 20, 0, 30},
		// The window slides: after 10s the floor is available again.
		{"floor refills", call.RetryBudget{Ratio: -1, MinPerSecond: 1}, 40, 10 * time.Second, 60},
		// Unlimited: every request gets its 2 retries.
		{"unlimited", call.RetryBudget{Unlimited: true}, 20, 0, 60},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
			clk := fakeclock.New(epoch)
			c := newClient(t, call.WithClock(clk.Now), call.WithRetry(fastRetry), call.WithRetryBudget(tc.budget))
			for i := range tc.requests {
				if i == tc.requests/2 {
					clk.Advance(tc.advance)
				}
				if st, err := get(c, s.URL); err != nil || st != http.StatusServiceUnavailable {
					t.Fatalf("get #%d = %d, %v; want 503, nil", i, st, err)
				}
			}
			if got := s.hits.Load(); got != tc.wantHits {
				t.Errorf("%d requests with %+v: server hits = %d; want %d", tc.requests, tc.budget, got, tc.wantHits)
			}
		})
	}
}

func TestRetryBudget_shared(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	clk := fakeclock.New(epoch)
	// A floor of 0.5/s over 10s: 5 retries in all, whoever asks.
	shared := retry.NewBudget(retry.BudgetConfig{Ratio: -1, MinPerSecond: 0.5, Clock: clk.Now})
	opts := []call.Option{call.WithRetry(fastRetry), call.WithRetryBudget(call.RetryBudget{Shared: shared})}
	a, b := newClient(t, opts...), newClient(t, opts...)
	for range 5 {
		_, _ = get(a, s.URL)
		_, _ = get(b, s.URL)
	}
	calls := 0
	_ = retry.Do(context.Background(), retry.Policy{Budget: shared, BaseDelay: 1, MaxDelay: 1}, func(context.Context) error {
		calls++
		return errors.New("down")
	})
	if got := s.hits.Load(); got != 15 || calls != 1 {
		t.Errorf("two Clients sharing a budget of 5 retries: server hits = %d, retry.Do tries = %d; want 15 (10 + 5), 1", got, calls)
	}
}

func TestOptions_invalidPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prefix string
		f      func()
	}{
		{"negative MaxAttempts", "call.WithRetry: ", func() { call.WithRetry(call.RetryPolicy{MaxAttempts: -1}) }},
		{"negative BaseDelay", "call.WithRetry: ", func() { call.WithRetry(call.RetryPolicy{BaseDelay: -1}) }},
		{"negative MaxDelay", "call.WithRetry: ", func() { call.WithRetry(call.RetryPolicy{MaxDelay: -1}) }},
		{"negative MaxRetryAfter", "call.WithRetry: ", func() { call.WithRetry(call.RetryPolicy{MaxRetryAfter: -1}) }},
		{"NaN ratio", "call.WithRetryBudget: ", func() { call.WithRetryBudget(call.RetryBudget{Ratio: math.NaN()}) }},
		{"infinite floor", "call.WithRetryBudget: ", func() { call.WithRetryBudget(call.RetryBudget{MinPerSecond: math.Inf(1)}) }},
		{"negative window", "call.WithRetryBudget: ", func() { call.WithRetryBudget(call.RetryBudget{Window: -time.Second}) }},
		{"negative timeout", "call.WithTimeout: ", func() { call.WithTimeout(-time.Second) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.HasPrefix(msg, tc.prefix) || !strings.Contains(msg, "; ") {
					t.Errorf("%s: panic = %v; want a %q message with a fix", tc.name, r, tc.prefix)
				}
			}()
			tc.f()
		})
	}
}
