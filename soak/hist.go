package main

import (
	"math"
	"math/bits"
	"time"
)

// Histogram resolution: values are recorded in microseconds into
// log-linear buckets, histSub sub-buckets per power of two (like
// HdrHistogram with two significant digits), so a reported percentile is
// never below the true value and at most 1/histSub (3.2%) above it.
// Values below histSub µs are exact. Memory is fixed: histBuckets
// counters, whatever the number of samples.
const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histBuckets = 64 * histSub
)

// hist is a fixed-size latency histogram. The zero hist is empty and ready
// to use. It is not safe for concurrent use: each load worker records into
// its own and the results are merged.
type hist struct {
	counts   [histBuckets]uint64
	n        uint64
	min, max time.Duration
}

// histBucket returns the bucket index of a value in microseconds.
func histBucket(us uint64) int {
	if us < histSub {
		return int(us)
	}
	e := bits.Len64(us) - histSubBits - 1 // us>>e is in [histSub, 2*histSub)
	return (e+1)*histSub + int(us>>uint(e)) - histSub
}

// histUpper returns the largest value in microseconds that falls into
// bucket i.
func histUpper(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	e := i/histSub - 1
	m := uint64(i%histSub + histSub)
	return (m+1)<<uint(e) - 1
}

// record adds one sample; negative durations count as zero.
func (h *hist) record(d time.Duration) {
	d = max(d, 0)
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.counts[histBucket(uint64(d/time.Microsecond))]++
}

// merge adds every sample of o to h.
func (h *hist) merge(o *hist) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	for i, c := range o.counts {
		h.counts[i] += c
	}
}

// count returns the number of samples.
func (h *hist) count() uint64 { return h.n }

// quantile returns the q-quantile (0 < q ≤ 1) by the nearest-rank method:
// the smallest bucket bound at or above the ceil(q·n)-th smallest sample,
// capped at the largest sample. It is conservative (never below the true
// value) and 0 for an empty hist.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(histUpper(i))*time.Microsecond+time.Microsecond-1, h.max)
		}
	}
	return h.max
}
