// Package fakeclock provides a manually advanced clock for deterministic tests
// of chassis's clock-dependent types. It is internal: users inject their own
// func() time.Time through each package's clock option.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a clock that moves only when told to. The zero Clock reads the zero
// time; use New for a realistic start. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock reading t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's current time. It has the signature of time.Now so
// that c.Now can be passed wherever a chassis option takes a clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (backwards if d is negative, which
// tests use to simulate a clock step).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
