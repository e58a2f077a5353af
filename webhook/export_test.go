package webhook

import (
	"context"
	"time"
)

// SetWait replaces s's backoff wait, for tests that must not sleep.
func SetWait(s *Sender, wait func(ctx context.Context, d time.Duration) error) { s.wait = wait }
