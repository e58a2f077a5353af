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
