package redislimit

import (
	"sync"
	"sync/atomic"
)

// circuit stops calls to Redis after threshold consecutive failures, for
// cooldown nanoseconds of the limiter's local timeline, then lets one probe
// through at a time: a successful probe (or any success) closes it, a failed
// probe opens it for another cooldown.
//
// The success path is two atomic loads; the failure path takes mu.
type circuit struct {
	threshold int
	cooldown  int64

	mu        sync.Mutex
	failures  atomic.Int64 // consecutive failures; written under mu (reset also under mu)
	open      atomic.Bool  // failures >= threshold
	openUntil atomic.Int64 // end of the cooldown; stored before open is set
	probing   atomic.Bool  // a probe is in flight
}

// admit reports whether a Redis call may be made at now and whether that call
// is the probe. A caller that got probe == true must report the outcome with
// success, failure or abandon.
func (c *circuit) admit(now int64) (ok, probe bool) {
	if !c.open.Load() {
		return true, false
	}
	if now < c.openUntil.Load() {
		return false, false
	}
	if c.probing.CompareAndSwap(false, true) {
		return true, true
	}
	return false, false
}

func (c *circuit) success(probe bool) {
	if c.failures.Load() != 0 || c.open.Load() {
		c.mu.Lock()
		c.failures.Store(0)
		c.open.Store(false)
		c.mu.Unlock()
	}
	if probe {
		c.probing.Store(false)
	}
}

// failure records a failed call at now. Only the failure that trips the
// circuit, or a failed probe, starts a cooldown: calls that were already in
// flight when it tripped do not extend it.
func (c *circuit) failure(now int64, probe bool) {
	c.mu.Lock()
	n := c.failures.Add(1)
	if n >= int64(c.threshold) && (probe || !c.open.Load()) {
		c.openUntil.Store(now + c.cooldown)
		c.open.Store(true)
	}
	c.mu.Unlock()
	if probe {
		c.probing.Store(false)
	}
}

// abandon releases the probe without a verdict (the caller's context ended
// first): the next caller probes instead.
func (c *circuit) abandon(probe bool) {
	if probe {
		c.probing.Store(false)
	}
}
