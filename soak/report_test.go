package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestReportWrite(t *testing.T) {
	var r report
	r.info("load", "throughput", "1234 req/s")
	r.check("load", "500 answers", "0", "0", true)
	r.check("abuse", "hot key admitted", "130 of 9000", "<= 120", false)
	r.check("odd", "tab\tin name", "line\nbreak", "", true)
	var b bytes.Buffer
	if err := r.write(&b); err != nil {
		t.Fatal(err)
	}
	want := `PHASE  METRIC            VALUE        BOUND   RESULT
load   throughput        1234 req/s   -       info
load   500 answers       0            0       PASS
abuse  hot key admitted  130 of 9000  <= 120  FAIL
odd    tab in name       line break   -       PASS
soak: FAIL (1 of 3 checks): abuse/hot key admitted
`
	if got := b.String(); got != want {
		t.Errorf("write() =\n%s\nwant\n%s", got, want)
	}
	if f := r.failures(); len(f) != 1 || f[0].metric != "hot key admitted" {
		t.Errorf("failures() = %v; want the hot key row", f)
	}
}

func TestReportPass(t *testing.T) {
	var r report
	r.check("x", "y", "1", "<= 2", true)
	var b bytes.Buffer
	_ = r.write(&b)
	if !strings.HasSuffix(b.String(), "soak: PASS (1 checks)\n") || len(r.failures()) != 0 {
		t.Errorf("write() = %q; want a PASS line", b.String())
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{fmtDur(1500 * time.Millisecond), "1.50s"},
		{fmtDur(12345 * time.Microsecond), "12.3ms"},
		{fmtDur(999 * time.Microsecond), "999µs"},
		{fmtDur(0), "0µs"},
		{fmtMiB(3 << 20), "3.0 MiB"},
		{fmtPct(1, 3), "33.33%"},
		{fmtPct(0, 0), "n/a"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("format = %q; want %q", tc.got, tc.want)
		}
	}
	var c statusCounts
	if got := fmtStatuses(&c); got != "none" {
		t.Errorf("fmtStatuses(empty) = %q; want none", got)
	}
	for _, code := range []int{503, 200, 200, 429, 999} {
		c.add(code)
	}
	if got, want := fmtStatuses(&c), "other:1 200:2 429:1 503:1"; got != want {
		t.Errorf("fmtStatuses = %q; want %q", got, want)
	}
	if got := c.count(is2xx); got != 2 {
		t.Errorf("count(is2xx) = %d; want 2", got)
	}
}

func TestHotKeyBound(t *testing.T) {
	tests := []struct {
		rate    int
		per     time.Duration
		burst   int
		elapsed time.Duration
		want    uint64
	}{
		{100, time.Second, 20, 0, 20},
		{100, time.Second, 20, 10 * time.Second, 1020},
		{100, time.Second, 20, 1500 * time.Microsecond, 21}, // 0.15 rounds up
		{5, time.Minute, 0, time.Minute, 10},                // zero burst means rate
		{100, time.Second, 20, 12345 * time.Millisecond, 1255},
	}
	for _, tc := range tests {
		if got := hotKeyBound(tc.rate, tc.per, tc.burst, tc.elapsed); got != tc.want {
			t.Errorf("hotKeyBound(%d, %v, %d, %v) = %d; want %d", tc.rate, tc.per, tc.burst, tc.elapsed, got, tc.want)
		}
	}
}

func TestRetryBound(t *testing.T) {
	p := budgetPolicy{Ratio: 0.2, MinPerSecond: 10, Window: 10 * time.Second}
	tests := []struct {
		requests uint64
		lifetime time.Duration
		want     float64
	}{
		{0, 0, 100},                         // one window's floor
		{1000, 10 * time.Second, 400 + 200}, // 2 windows touched
		{1000, 25 * time.Second, 400 + 400}, // ceil(2.5)+1 = 4
		{50_000, 60 * time.Second, 20_000 + 700},
	}
	for _, tc := range tests {
		if got := retryBound(p, tc.requests, tc.lifetime); got != tc.want {
			t.Errorf("retryBound(%d, %v) = %v; want %v", tc.requests, tc.lifetime, got, tc.want)
		}
	}
	if got := windows(25*time.Second, 10*time.Second); got != 4 {
		t.Errorf("windows(25s, 10s) = %v; want 4", got)
	}
}

// TestRetryBoundHolds replays the call package's budget arithmetic (a ring
// of 10 buckets, ratio × requests + floor per window) against adversarial
// traffic and checks that retryBound is never exceeded.
func TestRetryBoundHolds(t *testing.T) {
	p := budgetPolicy{Ratio: 0.2, MinPerSecond: 10, Window: 10 * time.Second}
	type bucket struct{ slot, req, ret int64 }
	var ring [10]bucket
	var totalReq, totalRet uint64
	withdraw := func(slot int64) bool {
		var req, ret int64
		for _, b := range ring {
			if b.slot > slot-10 && b.slot <= slot {
				req += b.req
				ret += b.ret
			}
		}
		return float64(ret+1) <= p.Ratio*float64(req)+p.MinPerSecond*p.Window.Seconds()
	}
	at := func(slot int64) *bucket {
		b := &ring[slot%10]
		if b.slot != slot {
			*b = bucket{slot: slot}
		}
		return b
	}
	const seconds = 95
	for sec := int64(0); sec < seconds; sec++ {
		// Bursty: all requests in the 9th second of each window, retries
		// demanded without limit right after.
		if sec%10 == 9 {
			at(sec).req += 5000
			totalReq += 5000
		}
		for withdraw(sec) {
			at(sec).ret++
			totalRet++
		}
	}
	bound := retryBound(p, totalReq, seconds*time.Second)
	if float64(totalRet) > bound {
		t.Errorf("retries granted = %d; retryBound = %v; want within", totalRet, bound)
	}
	if float64(totalRet) < 0.2*float64(totalReq) {
		t.Errorf("retries granted = %d; the adversarial pattern should exceed ratio × requests = %v", totalRet, 0.2*float64(totalReq))
	}
}

func TestGrowthOK(t *testing.T) {
	if !growthOK(100, 150, 50) || growthOK(100, 151, 50) || !growthOK(100, 20, 0) {
		t.Error("growthOK: wrong comparison")
	}
}
