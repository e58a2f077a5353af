package call

import (
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/chassis-go/chassis/internal/retryafter"
	"github.com/chassis-go/chassis/retry"
)

// RetryPolicy says which attempts are retried and how long to wait between
// them. The zero RetryPolicy is the default policy: 3 attempts, backoff from
// 100ms capped at 5s, Retry-After honoured up to 30s, idempotent requests
// only. A RetryPolicy is a plain value: [WithRetry] copies it.
//
// # What is retried
//
// An attempt is retried only if all of these hold:
//   - the request is idempotent: its method is GET, HEAD, OPTIONS, TRACE, PUT
//     or DELETE, or it carries an Idempotency-Key header, or
//     RetryNonIdempotent is set;
//   - its body can be sent again: it has no body, or GetBody is set (as
//     [http.NewRequest] does for *bytes.Buffer, *bytes.Reader and
//     *strings.Reader bodies); an empty body is never sent in its place;
//   - the caller's context has not ended;
//   - the outcome is retryable: by default, an error before any response
//     (connection refused or reset, per-attempt timeout; not TLS
//     certificate errors, not [ErrCircuitOpen]), a 502, 503 or 504, or a
//     429 carrying a valid Retry-After; Retryable replaces this test;
//   - Retry-After, when present, is at most MaxRetryAfter;
//   - the wait ends before the caller's context deadline;
//   - the retry budget ([RetryBudget]) has room.
//
// Otherwise the last response (unread) or error is returned as is. A
// response that is retried is drained (at most 64 KiB) and closed first.
type RetryPolicy struct {
	// MaxAttempts is the total number of tries, including the first.
	// Zero means 3; 1 disables retries. Negative panics.
	MaxAttempts int

	// BaseDelay is the backoff before the second try. Before try n+1 the
	// wait is drawn uniformly from [0, min(MaxDelay, BaseDelay·2^(n-1))]
	// ("full jitter"). Zero means 100ms. Negative panics.
	BaseDelay time.Duration

	// MaxDelay caps the backoff (not Retry-After). Zero means 5s, or
	// BaseDelay if that is larger. Negative panics.
	MaxDelay time.Duration

	// MaxRetryAfter caps how long a server may ask the client to wait with
	// a Retry-After header (delta-seconds or HTTP-date). A response asking
	// for longer is not retried: it is returned to the caller, who may
	// honour it. Zero means 30s. Negative panics.
	MaxRetryAfter time.Duration

	// RetryNonIdempotent allows retrying POST, PATCH and other
	// non-idempotent requests without an Idempotency-Key header. Only set
	// it if the server tolerates duplicates.
	RetryNonIdempotent bool

	// Retryable, if non-nil, replaces the default test of whether an
	// attempt's outcome is worth retrying. It gets the response (nil on
	// error) or the error (nil with a response) and must not read or close
	// the body. It is called on the goroutine that called Do, with no lock
	// held. Idempotency, body replay, the caller's context, MaxRetryAfter,
	// the deadline and the budget are checked whatever it says.
	Retryable func(resp *http.Response, err error) bool
}

const (
	// The attempt and backoff defaults are package retry's, so that call
	// and retry.Do behave alike.
	defaultMaxAttempts   = retry.DefaultMaxAttempts
	defaultBaseDelay     = retry.DefaultBaseDelay
	defaultMaxDelay      = retry.DefaultMaxDelay
	defaultMaxRetryAfter = 30 * time.Second
)

func (p RetryPolicy) validate() {
	switch {
	case p.MaxAttempts < 0:
		panic("call.WithRetry: MaxAttempts is negative; use 1 to disable retries")
	case p.BaseDelay < 0:
		panic("call.WithRetry: BaseDelay is negative; use 0 for the default 100ms")
	case p.MaxDelay < 0:
		panic("call.WithRetry: MaxDelay is negative; use 0 for the default 5s")
	case p.MaxRetryAfter < 0:
		panic("call.WithRetry: MaxRetryAfter is negative; use 0 for the default 30s")
	}
}

// retryer is a RetryPolicy with its defaults resolved.
type retryer struct {
	maxAttempts   int
	base, max     time.Duration
	maxRetryAfter time.Duration
	nonIdempotent bool
	retryable     func(*http.Response, error) bool
	jitter        func(n int64) int64 // uniform in [0, n)
}

func newRetryer(p RetryPolicy, jitter func(int64) int64) *retryer {
	r := &retryer{
		maxAttempts:   p.MaxAttempts,
		base:          p.BaseDelay,
		max:           p.MaxDelay,
		maxRetryAfter: p.MaxRetryAfter,
		nonIdempotent: p.RetryNonIdempotent,
		retryable:     p.Retryable,
		jitter:        jitter,
	}
	if r.maxAttempts == 0 {
		r.maxAttempts = defaultMaxAttempts
	}
	if r.base == 0 {
		r.base = defaultBaseDelay
	}
	if r.max == 0 {
		r.max = max(defaultMaxDelay, r.base)
	}
	if r.maxRetryAfter == 0 {
		r.maxRetryAfter = defaultMaxRetryAfter
	}
	if r.jitter == nil {
		r.jitter = rand.Int64N
	}
	return r
}

// allowed reports whether req may be sent more than once: it is idempotent
// (or the policy says so) and its body can be replayed.
func (r *retryer) allowed(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	if r.nonIdempotent {
		return true
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	return headerValue(req.Header, "Idempotency-Key") != ""
}

// decide reports whether the outcome of an attempt is to be retried and how
// long to wait first.
func (r *retryer) decide(ctx context.Context, resp *http.Response, err error, n int, now func() time.Time) (time.Duration, bool) {
	if ctx.Err() != nil {
		return 0, false
	}
	if err != nil {
		var final *finalError
		if errors.Is(err, ErrCircuitOpen) || errors.As(err, &final) {
			return 0, false
		}
	}
	if err == nil && resp != nil && r.retryable == nil && !maybeRetryableStatus(resp.StatusCode) {
		// The default test retries no other status, whatever Retry-After
		// says: the header need not be read.
		return 0, false
	}
	var after time.Duration
	var hasAfter bool
	if resp != nil {
		if v := headerValue(resp.Header, "Retry-After"); v != "" {
			after, hasAfter = retryafter.Parse(v, now())
		}
	}
	if r.retryable != nil {
		if !r.retryable(resp, err) {
			return 0, false
		}
	} else if !defaultRetryable(resp, err, hasAfter) {
		return 0, false
	}
	if hasAfter {
		if after > r.maxRetryAfter {
			return 0, false
		}
		return after, true
	}
	return r.backoff(n), true
}

func defaultRetryable(resp *http.Response, err error, hasAfter bool) bool {
	if err != nil {
		var cert *tls.CertificateVerificationError
		return !errors.As(err, &cert)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return hasAfter
	}
	return maybeRetryableStatus(resp.StatusCode)
}

// maybeRetryableStatus reports whether the default test may retry a
// response with status code: 502, 503 and 504 always, 429 with a valid
// Retry-After.
func maybeRetryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// headerValue is h.Get(key) for a key already in canonical form: it skips
// canonicalizing the key again, which costs more than the lookup.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// finalError marks an error that no retry can fix (a failing token source or
// GetBody); it reads and unwraps as its cause.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

// backoff returns the full-jitter wait before try n+1, n ≥ 1: package
// retry's, so that call and retry.Do wait alike.
func (r *retryer) backoff(n int) time.Duration {
	return retry.Policy{BaseDelay: r.base, MaxDelay: r.max}.Backoff(n, r.jitter)
}
