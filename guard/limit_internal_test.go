package guard

import (
	"testing"
	"time"
)

const gcraMS = int64(time.Millisecond)

func TestGCRA(t *testing.T) {
	t.Parallel()
	// 10 per second, burst 3: T = 100ms, L = 300ms.
	p := paramsOf(Limit{Rate: 10, Per: time.Second, Burst: 3})
	if p.interval != 100*gcraMS || p.window != 300*gcraMS {
		t.Fatalf("paramsOf = %+v; want interval 100ms, window 300ms", p)
	}
	tests := []struct {
		name     string
		now, tat int64
		want     gcraResult
	}{
		{"fresh key", 0, 0, gcraResult{tat: 100 * gcraMS, allowed: true, remaining: 2, resetAfter: 100 * gcraMS}},
		{"stale state counts as fresh", 5000 * gcraMS, 10 * gcraMS, gcraResult{tat: 5100 * gcraMS, allowed: true, remaining: 2, resetAfter: 100 * gcraMS}},
		{"second of burst", 0, 100 * gcraMS, gcraResult{tat: 200 * gcraMS, allowed: true, remaining: 1, resetAfter: 200 * gcraMS}},
		{"last of burst", 0, 200 * gcraMS, gcraResult{tat: 300 * gcraMS, allowed: true, remaining: 0, resetAfter: 300 * gcraMS}},
		{"burst exhausted", 0, 300 * gcraMS, gcraResult{tat: 300 * gcraMS, retryAfter: 100 * gcraMS, resetAfter: 300 * gcraMS}},
		{"just before the retry time", 99 * gcraMS, 300 * gcraMS, gcraResult{tat: 300 * gcraMS, retryAfter: 1 * gcraMS, resetAfter: 201 * gcraMS}},
		{"at the retry time", 100 * gcraMS, 300 * gcraMS, gcraResult{tat: 400 * gcraMS, allowed: true, remaining: 0, resetAfter: 300 * gcraMS}},
		{"partly replenished", 150 * gcraMS, 300 * gcraMS, gcraResult{tat: 400 * gcraMS, allowed: true, remaining: 0, resetAfter: 250 * gcraMS}},
		{"one interval replenished", 200 * gcraMS, 300 * gcraMS, gcraResult{tat: 400 * gcraMS, allowed: true, remaining: 1, resetAfter: 200 * gcraMS}},
		{"negative times (clock before base)", -1000 * gcraMS, -1000 * gcraMS, gcraResult{tat: -900 * gcraMS, allowed: true, remaining: 2, resetAfter: 100 * gcraMS}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := gcra(tc.now, tc.tat, p); got != tc.want {
				t.Errorf("gcra(%d, %d) = %+v; want %+v", tc.now, tc.tat, got, tc.want)
			}
		})
	}
}

func TestGCRABurstOne(t *testing.T) {
	t.Parallel()
	// 1 per minute, burst 1: every event 60s apart, Retry-After the full minute.
	p := paramsOf(Limit{Rate: 1, Per: time.Minute, Burst: 1})
	minute := int64(time.Minute)
	r := gcra(0, 0, p)
	if want := (gcraResult{tat: minute, allowed: true, remaining: 0, resetAfter: minute}); r != want {
		t.Fatalf("gcra(0, 0) = %+v; want %+v", r, want)
	}
	r = gcra(1000*gcraMS, r.tat, p)
	if want := (gcraResult{tat: minute, retryAfter: minute - 1000*gcraMS, resetAfter: minute - 1000*gcraMS}); r != want {
		t.Fatalf("gcra(1s, 60s) = %+v; want %+v", r, want)
	}
}

// TestGCRAClockBackwards checks that running the algorithm with a clock that
// steps back never admits more than the same requests at the latest time seen.
func TestGCRAClockBackwards(t *testing.T) {
	t.Parallel()
	p := paramsOf(Limit{Rate: 2, Per: time.Second, Burst: 2})
	times := []int64{0, 0, 0, -3000 * gcraMS, -3000 * gcraMS, 100 * gcraMS, -10000 * gcraMS, 500 * gcraMS, 600 * gcraMS, -1 * gcraMS, 1000 * gcraMS, 1000 * gcraMS, 1000 * gcraMS}
	var tat int64
	admitted := 0
	for _, now := range times {
		r := gcra(now, tat, p)
		tat = r.tat
		if r.allowed {
			admitted++
		}
	}
	// Latest time 1s: at most Burst + 1s*Rate = 4.
	if admitted > 4 {
		t.Errorf("admitted %d with a clock stepping back; want at most 4", admitted)
	}
}
