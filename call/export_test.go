package call

import "time"

// Test-only access to unexported hooks for the black-box tests.

// WithTokenHook makes the Client call h in each request that found no
// fresh token, after its cache read and before it joins the token flight.
func WithTokenHook(h func()) Option {
	return func(o *options) { o.tokenHook = h }
}

// WithHedgeTimer replaces the hedge delay's timer: f(d) returns the channel
// that fires it.
func WithHedgeTimer(f func(d time.Duration) <-chan time.Time) Option {
	return func(o *options) { o.hedgeAfter = f }
}
