// Package logthrottle bounds how often a hot error path logs, so that a
// flood of bad requests (or a dependency outage seen by every request)
// cannot flood the logs. guard's and grpckit's rate limiters share it.
package logthrottle

import (
	"sync/atomic"
	"time"
)

// Throttle lets through at most one log record per second and counts the
// ones it drops. The zero Throttle is ready to use; it is safe for
// concurrent use and must not be copied after first use.
type Throttle struct {
	last       atomic.Int64 // UnixNano of the last record let through; 0 before the first
	suppressed atomic.Int64
}

// Allow reports whether a record may be logged at now and, if so, how many
// were suppressed since the last one. A clock that steps backwards lets the
// next record through rather than silencing logs until it catches up.
func (t *Throttle) Allow(now time.Time) (suppressed int64, ok bool) {
	n := now.UnixNano()
	last := t.last.Load()
	if (last != 0 && n-last < int64(time.Second) && n >= last) || !t.last.CompareAndSwap(last, n) {
		t.suppressed.Add(1)
		return 0, false
	}
	return t.suppressed.Swap(0), true
}
