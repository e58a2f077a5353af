package retry

import (
	"context"
	"time"
)

// WithHooks returns p with its clock, sleep and jitter replaced, for the
// black-box tests. Nil hooks keep the defaults.
func WithHooks(p Policy, now func() time.Time, sleep func(context.Context, time.Duration) error, jitter func(int64) int64) Policy {
	p.hooks = &hooks{now: now, sleep: sleep, jitter: jitter}
	return p
}

// Backoff exposes the backoff of a resolved p for try n+1.
func Backoff(p Policy, n int) time.Duration {
	r := p.resolve("retry.Backoff")
	return r.backoff(n)
}
