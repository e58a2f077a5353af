package call

import (
	"math"
	"sync"
	"time"
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
// dependency its own Client to budget them separately. The window is a ring
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
}

const (
	defaultBudgetRatio  = 0.2
	defaultBudgetFloor  = 10
	defaultBudgetWindow = 10 * time.Second
	budgetBuckets       = 10
)

func (b RetryBudget) validate() {
	switch {
	case math.IsNaN(b.Ratio) || math.IsInf(b.Ratio, 0):
		panic("call.WithRetryBudget: Ratio is not finite; use e.g. 0.2 for 20%")
	case math.IsNaN(b.MinPerSecond) || math.IsInf(b.MinPerSecond, 0):
		panic("call.WithRetryBudget: MinPerSecond is not finite; use e.g. 10")
	case b.Window < 0:
		panic("call.WithRetryBudget: Window is negative; use 0 for the default 10s")
	case b.Window > 0 && b.Window < budgetBuckets:
		panic("call.WithRetryBudget: Window is shorter than 10ns; use 0 for the default 10s")
	}
}

// budget is a RetryBudget's sliding window: a ring of buckets, each
// counting the requests and retries of one Window/10 slice of time.
type budget struct {
	ratio, floor float64 // floor is MinPerSecond × Window, in retries
	width        int64   // bucket width, ns
	origin       time.Time

	mu      sync.Mutex
	buckets [budgetBuckets]budgetBucket
}

type budgetBucket struct {
	slot              int64 // time/width of the slice this bucket holds
	requests, retries int64
}

func newBudget(b RetryBudget, now time.Time) *budget {
	if b.Ratio == 0 {
		b.Ratio = defaultBudgetRatio
	}
	if b.Ratio < 0 {
		b.Ratio = 0
	}
	if b.MinPerSecond == 0 {
		b.MinPerSecond = defaultBudgetFloor
	}
	if b.MinPerSecond < 0 {
		b.MinPerSecond = 0
	}
	if b.Window == 0 {
		b.Window = defaultBudgetWindow
	}
	return &budget{
		ratio:  b.Ratio,
		floor:  b.MinPerSecond * b.Window.Seconds(),
		width:  int64(b.Window / budgetBuckets),
		origin: now,
	}
}

// bucket returns the bucket for now, emptied if it held an older slice.
// b.mu must be held.
func (b *budget) bucket(now time.Time) *budgetBucket {
	slot := int64(now.Sub(b.origin)) / b.width
	k := &b.buckets[uint64(slot)%budgetBuckets]
	if k.slot != slot {
		*k = budgetBucket{slot: slot}
	}
	return k
}

// deposit counts one request.
func (b *budget) deposit(now time.Time) {
	b.mu.Lock()
	b.bucket(now).requests++
	b.mu.Unlock()
}

// withdraw spends one retry if the budget allows it, and reports whether it
// did.
func (b *budget) withdraw(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.bucket(now)
	var requests, retries int64
	for i := range b.buckets {
		k := &b.buckets[i]
		if k.slot > cur.slot-budgetBuckets && k.slot <= cur.slot {
			requests += k.requests
			retries += k.retries
		}
	}
	if float64(retries+1) > b.ratio*float64(requests)+b.floor {
		return false
	}
	cur.retries++
	return true
}
