package retryafter_test

import (
	"math"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/internal/retryafter"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"  ", 0, false},
		{"0", 0, true},
		{" 120 ", 2 * time.Minute, true},
		{"99999999999999999999", math.MaxInt64, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"Sun, 06 Dec 2026 10:00:30 GMT", 30 * time.Second, true},
		{"Sun, 06 Dec 2026 09:00:00 GMT", 0, true},
		{"tomorrow", 0, false},
	}
	for _, tc := range tests {
		if got, ok := retryafter.Parse(tc.v, now); got != tc.want || ok != tc.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "120", "Sun, 06 Dec 2026 10:00:30 GMT", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if d, ok := retryafter.Parse(v, time.Now()); ok && d < 0 {
			t.Errorf("Parse(%q) = %v; want a non-negative delay", v, d)
		}
	})
}
