package retry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/chassis-go/chassis/internal/ctxsleep"
)

// Policy says how often and how patiently [Do] retries. The zero Policy is
// the default: 3 attempts, full-jitter backoff from 100ms capped at 5s, no
// elapsed-time cap besides the context, no budget, every error retried
// except those marked [Permanent]. A Policy is a plain value, safe to share
// between goroutines; Do never modifies it.
type Policy struct {
	// MaxAttempts is the total number of tries, including the first.
	// Zero means 3; 1 disables retries. Negative is invalid.
	MaxAttempts int

	// BaseDelay is the backoff before the second try. Before try n+1 the
	// wait is drawn uniformly from [0, min(MaxDelay, BaseDelay·2^(n-1))]
	// ("full jitter", which spreads the retries of many clients that
	// failed together). Zero means 100ms. Negative is invalid.
	BaseDelay time.Duration

	// MaxDelay caps the backoff and the delays asked for with [After]: a
	// delay longer than MaxDelay is not waited for, and the error is
	// returned instead. Zero means 5s, or BaseDelay if that is larger.
	// Negative is invalid.
	MaxDelay time.Duration

	// MaxElapsed, if positive, bounds the time from the first try to the
	// end of the last wait: no wait starts that would end later. Zero
	// means no bound besides the context. Negative is invalid.
	MaxElapsed time.Duration

	// Budget, if non-nil, bounds retries to a share of recent requests
	// (see [Budget]). Every call to Do counts as one request; every retry
	// must withdraw from the budget first, and when it is spent Do returns
	// the last error without retrying. Give every caller of one dependency
	// the same Budget.
	Budget *Budget

	// Retryable, if non-nil, reports whether an error is worth retrying;
	// by default every error is. It is not consulted for errors marked
	// [Permanent] (never retried) or when the caller's context has ended.
	// It is called on the goroutine that called Do.
	Retryable func(err error) bool

	hooks *hooks // tests only (export_test.go)
}

// hooks replaces the clock, the sleep and the jitter in tests.
type hooks struct {
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(n int64) int64 // uniform in [0, n)
}

// The defaults of a zero [Policy] field; call's RetryPolicy uses the same.
const (
	DefaultMaxAttempts = 3                      // tries, the first included
	DefaultBaseDelay   = 100 * time.Millisecond // the backoff's ceiling before the 2nd try
	DefaultMaxDelay    = 5 * time.Second        // the backoff's cap
)

// Validate reports the first invalid field of p, or nil; the error names
// the field and the fix. [Do] panics with the same text. Call it where a
// Policy is built from configuration, so that a bad value fails at start
// rather than at the first call.
func (p Policy) Validate() error {
	if msg := p.problem(); msg != "" {
		return errors.New("retry: " + msg)
	}
	return nil
}

func (p Policy) problem() string {
	switch {
	case p.MaxAttempts < 0:
		return fmt.Sprintf("MaxAttempts is %d; use 1 to disable retries, or 0 for the default 3", p.MaxAttempts)
	case p.BaseDelay < 0:
		return "BaseDelay is negative; use 0 for the default 100ms"
	case p.MaxDelay < 0:
		return "MaxDelay is negative; use 0 for the default 5s"
	case p.MaxElapsed < 0:
		return "MaxElapsed is negative; use 0 for no bound besides the context"
	}
	return ""
}

// resolved is a Policy with its defaults filled in.
type resolved struct {
	maxAttempts int
	base, max   time.Duration
	maxElapsed  time.Duration
	retryable   func(error) bool
	hooks
}

func (p *Policy) resolve(fn string) resolved {
	if msg := p.problem(); msg != "" {
		panic(fn + ": " + msg)
	}
	r := resolved{maxAttempts: p.MaxAttempts, base: p.BaseDelay, max: p.MaxDelay, maxElapsed: p.MaxElapsed, retryable: p.Retryable}
	if r.maxAttempts == 0 {
		r.maxAttempts = DefaultMaxAttempts
	}
	if r.base == 0 {
		r.base = DefaultBaseDelay
	}
	if r.max == 0 {
		r.max = max(DefaultMaxDelay, r.base)
	}
	if p.hooks != nil {
		r.hooks = *p.hooks
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.sleep == nil {
		r.sleep = ctxsleep.Sleep
	}
	if r.jitter == nil {
		r.jitter = rand.Int64N
	}
	return r
}

// Do calls fn until it succeeds, returns an error that is not to be
// retried, or the policy says stop (attempts, elapsed time, budget), and
// returns fn's last error unchanged (nil on success). Between tries it
// waits a full-jitter backoff, or the delay an error asked for with
// [After].
//
// ctx bounds everything, the waits included: fn gets ctx; when ctx ends
// during a wait, Do returns ctx.Err() at once; and no wait starts that
// would end after ctx's deadline: Do returns the last error at once
// instead, so the caller keeps time to act on it. An error from fn while
// ctx has ended is returned as is, never retried.
//
// fn runs on the calling goroutine, one try at a time; Do starts no
// goroutine and returns when the last try has returned. A panic in fn is
// not recovered. Panics if p is invalid (see [Policy.Validate]).
func Do(ctx context.Context, p Policy, fn func(context.Context) error) error {
	_, err := doValue(ctx, &p, "retry.Do", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx)
	})
	return err
}

// DoValue is [Do] for a function that returns a value: it returns the
// value and error of the last try.
func DoValue[T any](ctx context.Context, p Policy, fn func(context.Context) (T, error)) (T, error) {
	return doValue(ctx, &p, "retry.DoValue", fn)
}

func doValue[T any](ctx context.Context, p *Policy, name string, fn func(context.Context) (T, error)) (T, error) {
	r := p.resolve(name)
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	if p.Budget != nil {
		p.Budget.Deposit()
	}
	var start time.Time
	if r.maxElapsed > 0 {
		start = r.now()
	}
	for attempt := 1; ; attempt++ {
		v, err := fn(ctx)
		if err == nil {
			return v, nil
		}
		delay, ok := r.next(ctx, err, attempt, start)
		if !ok || (p.Budget != nil && !p.Budget.TryWithdraw()) {
			return v, err
		}
		if serr := r.sleep(ctx, delay); serr != nil {
			return v, serr
		}
	}
}

// next decides whether try attempt+1 is to be made after err, and how
// long to wait first.
func (r *resolved) next(ctx context.Context, err error, attempt int, start time.Time) (time.Duration, bool) {
	if attempt >= r.maxAttempts || ctx.Err() != nil {
		return 0, false
	}
	if _, ok := errors.AsType[*permanentError](err); ok {
		return 0, false
	}
	if r.retryable != nil && !r.retryable(err) {
		return 0, false
	}
	var delay time.Duration
	if after, ok := errors.AsType[*afterError](err); ok {
		if after.d > r.max {
			return 0, false
		}
		delay = after.d
	} else {
		delay = r.backoff(attempt)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= delay {
		return 0, false // the wait would outlive the caller
	}
	if r.maxElapsed > 0 && r.now().Sub(start)+delay > r.maxElapsed {
		return 0, false
	}
	return delay, true
}

// Backoff returns the full-jitter wait before try n+1 (n ≥ 1) under p: a
// duration drawn uniformly from [0, min(MaxDelay, BaseDelay·2^(n-1))]
// with zero fields taking their defaults, as [Do] waits. It never
// overflows, whatever n. rnd(k) must return a value uniform in [0, k); nil
// means math/rand/v2's Int64N. It is the building block for retry loops
// that cannot be a function passed to Do (call's HTTP loop, an
// interceptor). Panics if p is invalid (see [Policy.Validate]).
func (p Policy) Backoff(n int, rnd func(k int64) int64) time.Duration {
	r := p.resolve("retry.Policy.Backoff")
	if rnd != nil {
		r.jitter = rnd
	}
	return r.backoff(n)
}

// backoff returns the full-jitter wait before try n+1, n ≥ 1: uniform in
// [0, min(max, base·2^(n-1))]. It never overflows, whatever n.
func (r *resolved) backoff(n int) time.Duration {
	ceil := r.max
	if shift := n - 1; shift < 62 && r.base <= r.max>>uint(shift) {
		ceil = r.base << uint(shift)
	}
	if ceil <= 0 {
		return 0
	}
	if ceil == math.MaxInt64 {
		return time.Duration(r.jitter(int64(ceil)))
	}
	return time.Duration(r.jitter(int64(ceil) + 1))
}

// Permanent marks err as not worth retrying: [Do] returns it at once,
// whatever Policy.Retryable says. The result reads and unwraps as err, so
// errors.Is and errors.As see through it; it may itself be wrapped.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// After marks err as retryable no sooner than d, the delay a server asked
// for (HTTP Retry-After, gRPC RetryInfo, a broker's back-pressure hint):
// [Do] waits d instead of its backoff. If d is longer than
// Policy.MaxDelay, Do does not retry and returns err: waiting less than
// the server asked would be refused again, and longer than MaxDelay was
// ruled out by the policy. Policy.Retryable and the budget still apply.
// The result reads and unwraps as err. After(d, nil) is nil; a negative d
// means 0.
func After(d time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &afterError{d: max(d, 0), err: err}
}

type afterError struct {
	d   time.Duration
	err error
}

func (e *afterError) Error() string { return e.err.Error() }
func (e *afterError) Unwrap() error { return e.err }
