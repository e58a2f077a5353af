package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistBucketsAreContiguous(t *testing.T) {
	// Every value falls in a bucket whose bounds contain it, and buckets
	// follow each other without gaps.
	prevUpper := int64(-1)
	for i := range histBuckets - histSub {
		upper := int64(histUpper(i))
		if i > 0 && upper <= prevUpper {
			t.Fatalf("histUpper(%d) = %d; want > histUpper(%d) = %d", i, upper, i-1, prevUpper)
		}
		lower := uint64(prevUpper + 1)
		if got := histBucket(lower); got != i {
			t.Fatalf("histBucket(%d) = %d; want %d (lower bound of bucket %d)", lower, got, i, i)
		}
		if got := histBucket(uint64(upper)); got != i {
			t.Fatalf("histBucket(%d) = %d; want %d (upper bound of bucket %d)", upper, got, i, i)
		}
		prevUpper = upper
		if upper > 1<<40 {
			break
		}
	}
}

func TestHistQuantile(t *testing.T) {
	tests := []struct {
		name    string
		samples []time.Duration
		q       float64
		want    time.Duration // exact nearest-rank answer
	}{
		{"single", []time.Duration{7 * time.Millisecond}, 0.99, 7 * time.Millisecond},
		{"small exact", []time.Duration{3 * time.Microsecond, 1 * time.Microsecond, 2 * time.Microsecond}, 0.5, 2 * time.Microsecond},
		{"max", []time.Duration{time.Millisecond, 2 * time.Second}, 1, 2 * time.Second},
		{"p99 of 100", seq(100, time.Millisecond), 0.99, 99 * time.Millisecond},
		{"p50 of 1000", seq(1000, 100*time.Microsecond), 0.5, 50 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h hist
			for _, d := range tc.samples {
				h.record(d)
			}
			got := h.quantile(tc.q)
			if got < tc.want || float64(got) > float64(tc.want)*(1+1.0/histSub)+float64(time.Microsecond) {
				t.Errorf("quantile(%v) = %v; want %v within +%.1f%%", tc.q, got, tc.want, 100.0/histSub)
			}
		})
	}
}

func TestHistQuantileRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h hist
	var all []time.Duration
	for range 100_000 {
		// Log-uniform from 10µs to 10s, like latencies.
		d := time.Duration(float64(10*time.Microsecond) * math.Pow(10, rng.Float64()*6))
		h.record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := all[int(q*float64(len(all)))-1]
		got := h.quantile(q)
		if got < exact-time.Microsecond || float64(got) > float64(exact)*(1+1.0/histSub)+float64(time.Microsecond) {
			t.Errorf("quantile(%v) = %v; want %v within +%.1f%%", q, got, exact, 100.0/histSub)
		}
	}
	if h.count() != 100_000 || h.max != all[len(all)-1] || h.min != all[0] {
		t.Errorf("count, min, max = %d, %v, %v; want 100000, %v, %v", h.count(), h.min, h.max, all[0], all[len(all)-1])
	}
}

func TestHistMergeAndEmpty(t *testing.T) {
	var a, b, both, empty hist
	if got := empty.quantile(0.99); got != 0 {
		t.Errorf("empty quantile = %v; want 0", got)
	}
	for i := range 1000 {
		d := time.Duration(i) * 37 * time.Microsecond
		if i%3 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
		both.record(d)
	}
	a.merge(&b)
	a.merge(&empty)
	if a != both {
		t.Errorf("merge of two halves differs from recording everything: p99 %v vs %v, n %d vs %d", a.quantile(0.99), both.quantile(0.99), a.n, both.n)
	}
	var neg hist
	neg.record(-time.Second)
	if neg.quantile(1) != 0 {
		t.Errorf("negative sample quantile = %v; want 0", neg.quantile(1))
	}
}

func seq(n int, step time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * step
	}
	return out
}
