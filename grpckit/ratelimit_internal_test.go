package grpckit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

type failingLimiter struct{}

func (failingLimiter) Allow(context.Context, string) (guard.Decision, error) {
	return guard.Decision{}, errors.New("redis down")
}

// Limiter errors are logged at most once per second of the limiter's clock,
// with the number of records suppressed since the last one.
func TestRateLimitLogThrottle(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rl := newRateLimiterClock(RateLimitConfig{
		Limiter: failingLimiter{},
		Key:     func(context.Context) (string, error) { return "k", nil },
	}, &serverMW{logger: logger}, noop.NewMeterProvider(), clock.Now)

	for range 4 {
		if err := rl.check(t.Context(), "/svc/M"); err != nil {
			t.Fatalf("check() = %v; want nil (fail open)", err)
		}
		clock.Advance(100 * time.Millisecond)
	}
	clock.Advance(time.Second)
	_ = rl.check(t.Context(), "/svc/M")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged %d records; want 2 (first, then one a second later):\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], `msg="grpckit: rate limiter failed"`) || strings.Contains(lines[0], "suppressed") {
		t.Errorf("first record = %s; want the failure without a suppressed count", lines[0])
	}
	if !strings.Contains(lines[1], "suppressed=3") || !strings.Contains(lines[1], "fail_closed=false") || !strings.Contains(lines[1], "method=/svc/M") {
		t.Errorf("second record = %s; want suppressed=3, fail_closed=false and the method", lines[1])
	}
}
