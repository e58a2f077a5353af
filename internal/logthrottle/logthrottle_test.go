package logthrottle_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/internal/logthrottle"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLogThrottle(t *testing.T) {
	t.Parallel()
	var lt logthrottle.Throttle
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at             time.Duration
		wantOK         bool
		wantSuppressed int64
	}{
		{0, true, 0},
		{100 * time.Millisecond, false, 0},
		{900 * time.Millisecond, false, 0},
		{1000 * time.Millisecond, true, 2},
		{1500 * time.Millisecond, false, 0},
		{500 * time.Millisecond, true, 1}, // a clock stepping back does not mute logging
		{3 * time.Second, true, 0},
	}
	for _, s := range steps {
		got, ok := lt.Allow(t0.Add(s.at))
		if ok != s.wantOK || got != s.wantSuppressed {
			t.Errorf("Allow(t0+%v) = %d, %v; want %d, %v", s.at, got, ok, s.wantSuppressed, s.wantOK)
		}
	}
}
