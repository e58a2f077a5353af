package call

import (
	"strings"
	"time"

	"github.com/chassis-go/chassis/retry"
)

// RetryBudget bounds retries to a share of recent traffic, as in Finagle,
// Envoy and gRPC, so that a failing dependency sees at most about
// (1+Ratio)× its normal load instead of MaxAttempts× (a retry storm).
//
// Over the last Window, a Client may retry at most
// Ratio × (requests sent) + MinPerSecond × Window seconds times; every
// call to Do (and every redirect hop) counts as a request, and every retry
// spends one. When the budget is spent, the call returns its last response
// or error without retrying and the chassis.call.retry_budget.exhausted
// counter is incremented.
//
// The budget is per Client, shared by all hosts it calls: give each
// dependency its own Client to budget them separately, or share one
// [retry.Budget] between every client of a dependency (Shared). It is a
// [retry.Budget], the same as package retry's. The window is a ring
// of 10 buckets, so requests age out in steps of Window/10, measured with
// the Client's clock ([WithClock]).
//
// The zero RetryBudget is the default: 20% plus 10 retries per second, over
// 10s. A RetryBudget is a plain value: [WithRetryBudget] copies it.
type RetryBudget struct {
	// Ratio is the number of retries allowed per request sent, e.g. 0.2
	// for 20%; 1 allows one retry per request. Zero means 0.2; negative
	// means none (only the MinPerSecond floor). NaN or infinity panics.
	Ratio float64

	// MinPerSecond is the floor of retries per second allowed however few
	// requests were sent, so that a quiet client can still retry. Zero
	// means 10; negative means no floor. NaN or infinity panics.
	MinPerSecond float64

	// Window is how far back requests and retries are counted. Zero means
	// 10s. Negative values and values under 10ns panic.
	Window time.Duration

	// Unlimited disables the budget: retries are then bounded only by
	// RetryPolicy.MaxAttempts. The other fields are ignored.
	Unlimited bool

	// Shared, if non-nil, is the budget to use instead of one of the
	// Client's own: give every client of one dependency (other Clients,
	// retry.Do around its SDK, grpckit) the same *retry.Budget, so that
	// the dependency's retries are bounded as a whole. The other fields
	// are then ignored.
	Shared *retry.Budget
}

// config returns b as a retry.BudgetConfig reading the clock now.
func (b RetryBudget) config(now func() time.Time) retry.BudgetConfig {
	return retry.BudgetConfig{Ratio: b.Ratio, MinPerSecond: b.MinPerSecond, Window: b.Window, Clock: now}
}

func (b RetryBudget) validate() {
	if b.Unlimited || b.Shared != nil {
		return
	}
	if err := b.config(nil).Validate(); err != nil {
		panic("call.WithRetryBudget: " + strings.TrimPrefix(err.Error(), "retry: "))
	}
}

// newBudget returns the Client's budget: b.Shared, or a new one, or nil
// if b is Unlimited.
func newBudget(b RetryBudget, now func() time.Time) *retry.Budget {
	switch {
	case b.Unlimited:
		return nil
	case b.Shared != nil:
		return b.Shared
	}
	return retry.NewBudget(b.config(now))
}
