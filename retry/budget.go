package retry

import (
	"errors"
	"math"
	"sync"
	"time"
)

// BudgetConfig configures a [Budget]. The zero BudgetConfig is the
// default: 20% of requests plus 10 retries per second, over 10s.
type BudgetConfig struct {
	// Ratio is the number of retries allowed per request, e.g. 0.2 for
	// 20%; 1 allows one retry per request. Zero means 0.2; negative means
	// none (only the MinPerSecond floor). NaN or infinity is invalid.
	Ratio float64

	// MinPerSecond is the floor of retries per second allowed however few
	// requests were made, so that a quiet client can still retry. Zero
	// means 10; negative means no floor. NaN or infinity is invalid.
	MinPerSecond float64

	// Window is how far back requests and retries are counted, as a ring
	// of 10 buckets, so that they age out in steps of Window/10. Zero
	// means 10s. Negative values and values under 10ns are invalid.
	Window time.Duration

	// Clock is the time source of the window. Nil means time.Now.
	Clock func() time.Time
}

const (
	defaultBudgetRatio  = 0.2
	defaultBudgetFloor  = 10
	defaultBudgetWindow = 10 * time.Second
	budgetBuckets       = 10
)

// Validate reports the first invalid field of c, or nil; the error names
// the field and the fix. [NewBudget] panics with the same text.
func (c BudgetConfig) Validate() error {
	if msg := c.problem(); msg != "" {
		return errors.New("retry: " + msg)
	}
	return nil
}

func (c BudgetConfig) problem() string {
	switch {
	case math.IsNaN(c.Ratio) || math.IsInf(c.Ratio, 0):
		return "Ratio is not finite; use e.g. 0.2 for 20%"
	case math.IsNaN(c.MinPerSecond) || math.IsInf(c.MinPerSecond, 0):
		return "MinPerSecond is not finite; use e.g. 10"
	case c.Window < 0:
		return "Window is negative; use 0 for the default 10s"
	case c.Window > 0 && c.Window < budgetBuckets:
		return "Window is shorter than 10ns; use 0 for the default 10s"
	}
	return ""
}

// Budget bounds retries to a share of recent traffic, as in Finagle, Envoy
// and gRPC: over the last Window, at most
//
//	Ratio × requests + MinPerSecond × Window seconds
//
// retries are allowed. A dependency that fails everything then sees about
// (1+Ratio)× its normal load instead of MaxAttempts× (a retry storm), while
// occasional failures are still retried.
//
// Share one Budget between every caller of one dependency ([Policy.Budget]
// in each, call.WithRetryBudget, grpckit's client option): the budget
// protects the dependency only if it sees all the traffic to it. Build it
// with [NewBudget]; the zero Budget is not usable. A Budget is safe for
// concurrent use.
type Budget struct {
	ratio, floor float64 // floor is MinPerSecond × Window, in retries
	width        int64   // bucket width, ns
	now          func() time.Time
	origin       time.Time

	mu      sync.Mutex
	buckets [budgetBuckets]budgetBucket
}

type budgetBucket struct {
	slot              int64 // time/width of the slice this bucket holds
	requests, retries int64
}

// NewBudget returns a Budget configured by c; zero fields take the
// defaults documented on [BudgetConfig].
// Panics if c is invalid (see [BudgetConfig.Validate]).
func NewBudget(c BudgetConfig) *Budget {
	if msg := c.problem(); msg != "" {
		panic("retry.NewBudget: " + msg)
	}
	if c.Ratio == 0 {
		c.Ratio = defaultBudgetRatio
	}
	if c.MinPerSecond == 0 {
		c.MinPerSecond = defaultBudgetFloor
	}
	if c.Window == 0 {
		c.Window = defaultBudgetWindow
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return &Budget{
		ratio:  max(c.Ratio, 0),
		floor:  max(c.MinPerSecond, 0) * c.Window.Seconds(),
		width:  int64(c.Window / budgetBuckets),
		now:    c.Clock,
		origin: c.Clock(),
	}
}

// bucket returns the bucket for now, emptied if it held an older slice.
// b.mu must be held.
func (b *Budget) bucket(now time.Time) *budgetBucket {
	slot := int64(now.Sub(b.origin)) / b.width
	k := &b.buckets[uint64(slot)%budgetBuckets]
	if k.slot != slot {
		*k = budgetBucket{slot: slot}
	}
	return k
}

// Deposit counts one request: a first try, not a retry. [Do] calls it once
// per call; loops of your own call it once per logical request.
func (b *Budget) Deposit() {
	now := b.now()
	b.mu.Lock()
	b.bucket(now).requests++
	b.mu.Unlock()
}

// TryWithdraw spends one retry if the budget allows it, and reports whether
// it did. [Do] calls it before each retry; loops of your own call it before
// each retry and do not retry when it reports false.
func (b *Budget) TryWithdraw() bool {
	now := b.now()
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
