package guard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Limit is a rate limit: Rate events per Per, with bursts of up to Burst
// events. It is a plain value that can be loaded from configuration; the
// limiters copy it.
//
// Limit{Rate: 100, Per: time.Minute} admits 100 requests at once from an idle
// client and then one every 600ms; over any long interval it admits at most
// Rate events per Per plus Burst. See [NewMemoryLimiter] for the algorithm.
type Limit struct {
	// Rate is the number of events allowed per Per. It must be > 0.
	Rate int
	// Per is the period Rate is measured over. It must be > 0, and Per/Rate
	// (the interval between events at the steady rate) must be at least 1ns.
	Per time.Duration
	// Burst is the number of events an idle client may send at once. Zero
	// means Rate; it must not be negative. Burst 1 spaces every event by
	// Per/Rate.
	Burst int
}

// PerSecond returns a limit of n events per second with a burst of n.
func PerSecond(n int) Limit { return Limit{Rate: n, Per: time.Second, Burst: n} }

// PerMinute returns a limit of n events per minute with a burst of n.
func PerMinute(n int) Limit { return Limit{Rate: n, Per: time.Minute, Burst: n} }

// Validate reports why l is not a usable limit, or nil if it is. The error
// names the field, as in "guard: Limit.Rate must be > 0, got 0". Limiters call
// it at construction and panic on an error; other [Limiter] implementations
// (such as guard/redislimit) can do the same.
func (l Limit) Validate() error {
	if msg := l.problem(); msg != "" {
		return errors.New("guard: " + msg)
	}
	return nil
}

func (l Limit) problem() string {
	switch {
	case l.Rate <= 0:
		return fmt.Sprintf("Limit.Rate must be > 0, got %d", l.Rate)
	case l.Per <= 0:
		return fmt.Sprintf("Limit.Per must be > 0, got %v", l.Per)
	case l.Burst < 0:
		return fmt.Sprintf("Limit.Burst must be >= 0, got %d", l.Burst)
	case int64(l.Per)/int64(l.Rate) == 0:
		return fmt.Sprintf("Limit.Rate %d is too high for Per %v: the interval Per/Rate must be at least 1ns", l.Rate, l.Per)
	}
	if int64(l.normalize().Burst) > math.MaxInt64/4/(int64(l.Per)/int64(l.Rate)) {
		return fmt.Sprintf("Limit.Burst %d is too large: Burst*Per/Rate overflows", l.normalize().Burst)
	}
	return ""
}

// normalize returns l with a zero Burst replaced by Rate.
func (l Limit) normalize() Limit {
	if l.Burst == 0 {
		l.Burst = l.Rate
	}
	return l
}

// Decision is a limiter's answer for one event.
type Decision struct {
	// Allowed reports whether the event is admitted.
	Allowed bool
	// Limit is the limit that was applied, with a zero Burst replaced by
	// Rate. It is the zero Limit when the limiter did not say.
	Limit Limit
	// Remaining is how many more events an immediate burst could send after
	// this one; 0 when the event was denied.
	Remaining int
	// RetryAfter is how long to wait before the next event can be admitted.
	// It is 0 when Allowed and > 0 otherwise.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is fully replenished (a full
	// Burst is available again).
	ResetAfter time.Duration
}

// Limiter decides whether the event identified by key may proceed now.
// Implementations must be safe for concurrent use.
//
// Allow consumes one unit of the key's allowance when it admits the event.
// An error means no decision could be made (for example the backing store is
// unreachable); what to do then is the caller's policy (see
// RateLimitConfig.FailClosed). Allow must not block past ctx's deadline.
type Limiter interface {
	Allow(ctx context.Context, key string) (Decision, error)
}

// gcraParams is a normalized Limit in the integer form the GCRA needs.
type gcraParams struct {
	interval int64 // T: nanoseconds between events at the steady rate, Per/Rate rounded down
	window   int64 // L = Burst*T: how far the TAT may run ahead of now
}

func paramsOf(l Limit) gcraParams {
	t := int64(l.Per) / int64(l.Rate)
	return gcraParams{interval: t, window: t * int64(l.Burst)}
}

// gcraResult is one GCRA decision in integer nanoseconds.
type gcraResult struct {
	tat        int64 // the state to store: the new TAT if allowed, else max(tat, now)
	allowed    bool
	remaining  int64
	retryAfter int64
	resetAfter int64
}

// gcra is the Generic Cell Rate Algorithm (the "virtual scheduling" form of
// ITU-T I.371), the single source of truth for every chassis limiter. The
// Redis limiter runs the same arithmetic in Lua; keep the two identical.
//
// State: one number per key, the theoretical arrival time TAT (here in
// nanoseconds on the limiter's monotonic timeline; a port that computes in
// floating point, such as Lua, should use integer microseconds so values stay
// below 2^53). A key with no state, or with TAT <= now, is fully replenished.
//
// Parameters, from a Limit with Burst already defaulted to Rate:
//
//	T = Per / Rate            emission interval, integer division (>= 1)
//	L = Burst * T             window: the burst tolerance τ plus one interval
//	                          (τ = (Burst-1)*T in ITU terms)
//
// One event at time now:
//
//	tat  = max(TAT, now)
//	next = tat + T
//	if next - now > L:        denied; TAT is unchanged
//	    Remaining  = 0
//	    RetryAfter = next - L - now   (> 0: when next - now would be exactly L)
//	    ResetAfter = tat - now
//	else:                     allowed; store TAT = next
//	    Remaining  = floor((L - (next - now)) / T)
//	    RetryAfter = 0
//	    ResetAfter = next - now
//
// An idle key therefore admits Burst events at once (Remaining counts down
// Burst-1 … 0) and then one every T. Over any interval of length d a key is
// admitted at most Burst + floor(d/T) times. A clock that steps backwards makes
// now smaller, so next - now grows: it can only deny more, never admit more.
func gcra(now, tat int64, p gcraParams) gcraResult {
	if tat < now {
		tat = now
	}
	next := tat + p.interval
	if next-now > p.window {
		return gcraResult{tat: tat, retryAfter: next - p.window - now, resetAfter: tat - now}
	}
	return gcraResult{
		tat:        next,
		allowed:    true,
		remaining:  (p.window - (next - now)) / p.interval,
		resetAfter: next - now,
	}
}

// decision converts r into a Decision for the normalized limit l.
func (r gcraResult) decision(l Limit) Decision {
	return Decision{
		Allowed:    r.allowed,
		Limit:      l,
		Remaining:  int(r.remaining),
		RetryAfter: time.Duration(r.retryAfter),
		ResetAfter: time.Duration(r.resetAfter),
	}
}
