package overload

import (
	"math"
	"strconv"
	"sync/atomic"
	"time"
)

// Algorithm chooses how a [Limiter] moves its limit. Build one with
// [Gradient], [AIMD], [Vegas] or [Fixed]; the zero Algorithm is Gradient().
// An Algorithm is a plain value, safe to copy and to share between
// limiters (each limiter keeps its own state).
//
// The adaptive algorithms learn from completed work only: samples come
// from [Ticket.Done] with Success or Dropped, grouped in windows of at least
// max(limit, 100) samples, and the limit moves once per window. They all
// compare the window's mean latency with a baseline: the lowest value, in
// the last 10 to 20 seconds, of the window means smoothed over about five
// windows. Queueing raises the mean, so a mean well above the baseline says
// that work is waiting somewhere; the baseline, a minimum that expires,
// neither creeps up under sustained load (the limit creep of latency
// averages) nor stays stale for long after the service really got slower,
// and the window size and smoothing keep one lucky window of a
// heavy-tailed latency distribution from setting it too low.
type Algorithm struct {
	kind  algoKind
	fixed int
}

type algoKind uint8

const (
	kindGradient algoKind = iota
	kindAIMD
	kindVegas
	kindFixed
)

// String returns "gradient", "aimd", "vegas" or "fixed".
func (a Algorithm) String() string {
	switch a.kind {
	case kindAIMD:
		return "aimd"
	case kindVegas:
		return "vegas"
	case kindFixed:
		return "fixed"
	}
	return "gradient"
}

// Gradient returns the default algorithm, after Netflix's Gradient2. Each
// window it computes gradient = clamp(1.5 × baseline / mean, 0.5, 1) and
// aims at limit × gradient + √limit: while latency stays within 1.5× the
// baseline the limit grows, by a fifth of the step each window (slowly);
// above it the limit is cut at once, by up to half per window (fast). A
// window with a Dropped outcome cuts by at least 10%. The limit does not
// grow while less than half of it is in use, so an idle service does not
// accumulate a limit it never tested.
func Gradient() Algorithm { return Algorithm{kind: kindGradient} }

// AIMD returns an additive-increase, multiplicative-decrease algorithm that
// reacts to loss, not latency: a window with a Dropped outcome, or whose
// mean latency exceeds 2× the baseline, cuts the limit by 10%; any other
// window in which at least half the limit was in use adds 1. It is the
// simplest adaptive choice, and it lets latency grow further than Gradient
// before it acts.
func AIMD() Algorithm { return Algorithm{kind: kindAIMD} }

// Vegas returns an algorithm after TCP Vegas and Netflix's VegasLimit: it
// estimates the queue as limit × (1 − baseline / mean) and keeps it between
// α = 3·log10(limit) and β = 6·log10(limit) (at least 3 and 6): below α the
// limit grows by log10(limit) (at least 1) per window; above β it drops by
// the excess queue at once (by up to half per window), where Netflix's
// VegasLimit takes off only log10(limit); a Dropped outcome cuts it by 10%.
// Vegas keeps less queueing than Gradient when latencies vary little, but
// a heavy latency tail reads to it as a queue, and it then holds the limit
// below what the service sustains (see the overload simulation in
// BENCHMARKS.md): prefer Gradient unless your latencies are tight.
func Vegas() Algorithm { return Algorithm{kind: kindVegas} }

// Fixed returns a constant limit of n: a plain bulkhead, with the limiter's
// priorities, queue and deadline refusal. With Fixed, Config.MinLimit,
// MaxLimit and InitialLimit are ignored.
//
// Panics if n < 1.
func Fixed(n int) Algorithm {
	if n < 1 {
		panic("overload.Fixed: n must be at least 1, got " + strconv.Itoa(n) + "; use the largest concurrency the resource sustains")
	}
	return Algorithm{kind: kindFixed, fixed: n}
}

const (
	minWindow       = 100
	smoothWindows   = 5
	baselinePeriod  = int64(10 * time.Second)
	gradientTol     = 1.5
	gradientGrowth  = 0.2
	aimdTol         = 2.0
	backoff         = 0.9
	minGradient     = 0.5
	maxGradient     = 1.0
	vegasAlphaScale = 3
	vegasBetaScale  = 6
)

// window accumulates the samples of the current window with atomics, so
// that Ticket.Done takes no lock; the Done that fills the window closes it
// under Limiter.smu. A sample that lands while a window closes may count in
// either window: the means stay right to within one sample.
type window struct {
	count   atomic.Int64
	sum     atomic.Int64 // ns
	peak    atomic.Int64 // most units in flight seen at an admission
	dropped atomic.Bool
	size    atomic.Int64 // samples that close the window: max(limit, minWindow)
}

// add records one sample and reports whether the window is full.
func (w *window) add(rtt, inflight int64, dropped bool) bool {
	w.sum.Add(max(rtt, 0))
	if dropped {
		w.dropped.Store(true)
	}
	for p := w.peak.Load(); inflight > p && !w.peak.CompareAndSwap(p, inflight); p = w.peak.Load() {
	}
	return w.count.Add(1) >= w.size.Load()
}

// controller holds an adaptive algorithm's state. It is guarded by
// Limiter.smu.
type controller struct {
	kind       algoKind
	minL, maxL float64
	limit      float64

	baseCur  int64 // lowest smoothed window mean (ns) since the period began; 0 = none
	basePrev int64 // lowest smoothed window mean in the period before
	baseEnd  int64 // clock ns at which baseCur rotates into basePrev
	smooth   int64 // EWMA of window means (ns)
}

// baseline returns the lowest smoothed window mean of the last one or two
// periods, or 0 before the first window closed.
func (c *controller) baseline() int64 {
	switch {
	case c.basePrev == 0:
		return c.baseCur
	case c.baseCur == 0:
		return c.basePrev
	}
	return min(c.baseCur, c.basePrev)
}

// windowSize is how many samples close a window at the current limit.
func (c *controller) windowSize() int64 { return max(int64(c.limit), minWindow) }

// close ends the window w (if it is still full: another Done may have
// closed it first) and moves the limit; it reports whether it did.
func (c *controller) close(w *window, now int64) bool {
	if w.count.Load() < w.size.Load() {
		return false
	}
	count := w.count.Swap(0)
	sum := w.sum.Swap(0)
	peak := w.peak.Swap(0)
	dropped := w.dropped.Swap(false)
	mean := max(sum/max(count, 1), 1)
	if now >= c.baseEnd {
		// rotate; after a silence longer than a period, both buckets are
		// too old to keep.
		c.basePrev = c.baseCur
		if now >= c.baseEnd+baselinePeriod {
			c.basePrev = 0
		}
		c.baseCur, c.baseEnd = 0, now+baselinePeriod
	}
	// The baseline is the lowest smoothed mean: the smoothing (an EWMA
	// over about five windows) keeps the minimum from picking the one
	// lucky window of a heavy-tailed latency distribution.
	if c.smooth == 0 {
		c.smooth = mean
	} else {
		c.smooth += (mean - c.smooth) / smoothWindows
	}
	if c.baseCur == 0 || c.smooth < c.baseCur {
		c.baseCur = c.smooth
	}
	c.update(float64(mean), float64(c.baseline()), dropped, float64(peak))
	w.size.Store(c.windowSize())
	return true
}

// update moves the limit at the end of a window with the given mean latency
// and baseline (ns), whether a Dropped outcome was seen, and the peak in
// flight.
func (c *controller) update(mean, base float64, dropped bool, peak float64) {
	l := c.limit
	inUse := peak >= l/2
	switch c.kind {
	case kindGradient:
		g := min(max(gradientTol*base/mean, minGradient), maxGradient)
		target := l*g + math.Sqrt(l)
		if dropped {
			target = min(target, l*backoff)
		}
		switch {
		case target < l:
			l = target // cut fast
		case inUse:
			l += (target - l) * gradientGrowth // grow slowly
		}
	case kindAIMD:
		switch {
		case dropped || mean > aimdTol*base:
			l *= backoff
		case inUse:
			l++
		}
	case kindVegas:
		lg := math.Log10(max(l, 1))
		step := max(lg, 1)
		queue := l * (1 - base/mean)
		beta := max(vegasBetaScale*lg, 6)
		switch {
		case dropped:
			l *= backoff
		case queue > beta:
			l = max(l-(queue-beta), l*minGradient) // cut the excess queue at once
		case queue < max(vegasAlphaScale*lg, 3) && inUse:
			l += step
		}
	default:
		return
	}
	c.limit = min(max(l, c.minL), c.maxL)
}
