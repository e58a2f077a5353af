// Package ctxsleep waits for a duration unless a context ends first: the one
// wait that retry and call (and any retry loop in the toolkit) share.
package ctxsleep

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx is done, and returns ctx.Err() in the second
// case. A d of zero or less returns ctx.Err() at once, without a timer.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
