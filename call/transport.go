package call

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/chassis-go/chassis/breaker"
	"github.com/chassis-go/chassis/overload"
	"github.com/chassis-go/chassis/retry"
)

// ErrAttemptTimeout is matched (with errors.Is) by the error of an attempt
// that outlived the per-attempt timeout set by [WithTimeout]. Such errors
// also match [context.DeadlineExceeded]. When the caller's own context
// ends first, Do returns that context's error instead.
var ErrAttemptTimeout = errors.New("call: attempt timed out")

// attemptTimeoutError is the cancellation cause of an attempt's context; the
// base transport returns it (net/http reports context.Cause).
type attemptTimeoutError struct{ d time.Duration }

func (e *attemptTimeoutError) Error() string {
	return "call: attempt timed out after " + e.d.String()
}

func (e *attemptTimeoutError) Is(target error) bool {
	return target == ErrAttemptTimeout || target == context.DeadlineExceeded
}

// Timeout reports true, so that the error reads as a timeout to code that
// checks net.Error.
func (e *attemptTimeoutError) Timeout() bool { return true }

// Temporary reports true, as for net.Error timeouts.
func (e *attemptTimeoutError) Temporary() bool { return true }

// maxDrain is how much of a discarded response body is read so that its
// connection can be reused; anything longer closes the connection.
const maxDrain = 64 << 10

// transport is the http.RoundTripper behind a Client. Its layers, outermost
// first: Retry(Budget(Hedge(Breaker(Token(PerAttemptTimeout(Tracing(base))))))).
type transport struct {
	base         http.RoundTripper
	timeout      time.Duration
	timeoutCause error
	now          func() time.Time
	sleep        func(ctx context.Context, d time.Duration) error
	retry        *retryer
	budget       *retry.Budget
	breakers     *breakerSet
	limiters     *limiterSet
	tokens       *tokenCache
	hedge        *HedgePolicy
	hedgeAfter   func(d time.Duration) <-chan time.Time // test hook; nil: time.NewTimer
	tel          *instruments
}

func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip implements http.RoundTripper: it sends req, retrying under the
// retry policy and budget, each attempt guarded by the host's breaker.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		closeReqBody(req)
		return nil, err
	}
	if req.URL == nil {
		closeReqBody(req)
		return nil, errors.New("call: request has no URL")
	}
	repeatable := t.retry.allowed(req)
	canRetry := t.retry.maxAttempts > 1 && repeatable
	if t.budget != nil {
		t.budget.Deposit()
	}
	var br *hostBreaker
	if t.breakers != nil {
		br = t.breakers.get(req.URL.Host)
	}
	sent := 0 // attempts sent, hedges included
	for attempt := 1; ; attempt++ {
		resp, err := t.try(ctx, req, &sent, br, repeatable)
		if !canRetry || attempt >= t.retry.maxAttempts {
			return resp, err
		}
		delay, ok := t.retry.decide(ctx, resp, err, attempt, t.now)
		if !ok {
			return resp, err
		}
		if dl, has := ctx.Deadline(); has && time.Until(dl) <= delay {
			// The wait would outlive the caller: give them what we have now.
			return resp, err
		}
		if t.budget != nil && !t.budget.TryWithdraw() {
			t.tel.budgetExhausted(ctx)
			return resp, err
		}
		if resp != nil {
			discard(resp)
		}
		t.tel.retry(ctx, req.Method)
		if err := t.sleep(ctx, delay); err != nil {
			return nil, err
		}
	}
}

// attempt sends one try of req in two steps: admission (the host's
// breaker, then the token) and sending ([transport.send]). The breaker slot
// taken in admission is released by one deferred call, so every exit path
// records exactly one outcome: a caller's cancellation, a token or GetBody
// failure, or a panic before the request reaches the base transport
// (GetBody, the token hook) is recorded as ignored, which frees a half-open
// probe slot; a panic in the base transport or in IsFailure is recorded as
// a failure. A panic is never recovered here: it goes on to the caller.
func (t *transport) attempt(ctx context.Context, req *http.Request, n int, br *hostBreaker) (resp *http.Response, err error) {
	o := breaker.Ignored  // until the request is handed to the base transport
	sendReturned := false // send returned without a panic
	if br != nil {
		done, berr := br.Allow()
		if berr != nil {
			t.tel.breakerRejected(ctx)
			if n == 1 {
				closeReqBody(req)
			}
			return nil, br.openErr
		}
		defer func() {
			recorded := false
			defer func() {
				if !recorded && resp != nil {
					// OnStateChange panicked: the caller never gets resp.
					_ = resp.Body.Close()
				}
			}()
			done(o)
			recorded = true
		}()
	}
	if t.limiters != nil {
		tk, lerr := t.limiters.acquire(ctx, req)
		if lerr != nil {
			if n == 1 {
				closeReqBody(req)
			}
			return nil, lerr // the breaker records Ignored: o is still Ignored
		}
		lo := overload.Ignored // a panic or an early exit teaches nothing
		defer func() { tk.Done(lo) }()
		defer func() {
			if sendReturned {
				lo = overloadOutcome(ctx, resp, err)
			}
		}()
	}
	token, err := t.token(ctx, req)
	if err != nil {
		if n == 1 {
			closeReqBody(req)
		}
		return nil, err
	}
	resp, err = t.send(ctx, req, n, token, br, &o)
	sendReturned = true
	return resp, err
}

// token returns the bearer token to attach to req, or "" if none is to be
// attached.
func (t *transport) token(ctx context.Context, req *http.Request) (string, error) {
	if t.tokens == nil || headerValue(req.Header, "Authorization") != "" || !tokenAllowed(req) {
		return "", nil
	}
	token, err := t.tokens.token(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		return "", &finalError{fmt.Errorf("call: token: %w", err)}
	}
	return token, nil
}

// send performs one attempt under its own timeout and span. It sets *o to
// breaker.Failure before handing the request to the base transport and to
// the classified outcome (if br is non-nil) once that returns. The
// attempt's timer and span end in one deferred call unless the response
// body takes them over (attemptBody); on a panic they end there too, and a
// response already received is closed.
//
// When ctx's deadline comes no later than the per-attempt timeout would,
// the attempt runs under ctx's deadline alone: context.WithTimeoutCause
// would add no timer then (only a cancel scope), and the error at that
// deadline is ctx's either way.
func (t *transport) send(ctx context.Context, req *http.Request, n int, token string, br *hostBreaker, o *breaker.Outcome) (resp *http.Response, err error) {
	actx, cancel := ctx, context.CancelFunc(nil)
	if t.timeout > 0 && !deadlineWithin(ctx, t.timeout) {
		actx, cancel = context.WithTimeoutCause(ctx, t.timeout, t.timeoutCause)
	}
	actx, tel := t.tel.startAttempt(actx, req, n-1)
	returned, handedOff := false, false
	defer func() {
		if handedOff {
			return
		}
		if !returned && resp != nil {
			_ = resp.Body.Close()
		}
		if cancel != nil {
			cancel()
		}
		if tel.span != nil {
			if !returned {
				tel.span.SetStatus(codes.Error, "call: panic during attempt")
			}
			tel.span.End()
		}
	}()

	// r is a shallow copy: the caller's header map is shared until copied
	// below. When the response body will need a wrapper to end the
	// attempt, the two are allocated together.
	var r *http.Request
	var body *attemptBody
	if cancel != nil || tel.span != nil {
		a := &attemptState{req: *req.WithContext(actx)}
		r, body = &a.req, &a.body
	} else {
		r = req.WithContext(actx)
	}
	if token != "" || needsPropagation(actx) {
		r.Header = req.Header.Clone()
		if r.Header == nil {
			r.Header = make(http.Header)
		}
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		t.tel.prop.Inject(actx, propagation.HeaderCarrier(r.Header))
	}
	if n > 1 && req.Body != nil && req.Body != http.NoBody {
		rb, gerr := req.GetBody()
		if gerr != nil {
			err = &finalError{fmt.Errorf("call: replay request body: %w", gerr)}
			tel.end(actx, r, nil, err)
			returned = true
			return nil, err
		}
		r.Body = rb
	}

	*o = breaker.Failure // a panic in the base transport or IsFailure
	resp, err = t.base.RoundTrip(r)
	switch {
	case err == nil && resp == nil:
		err = errors.New("call: base transport returned neither a response nor an error")
	case err != nil && resp != nil:
		if resp.Body != nil {
			_ = resp.Body.Close()
		}
		resp = nil
	}
	if err == nil && resp.Body == nil {
		resp.Body = http.NoBody
	}
	if br != nil {
		*o = t.outcome(ctx, resp, err)
	}
	tel.end(actx, r, resp, err)
	returned = true
	if err != nil {
		return nil, err
	}
	if body == nil || resp.StatusCode == http.StatusSwitchingProtocols {
		// Nothing to release later, or the connection now belongs to the
		// caller and net/http no longer watches the attempt's context:
		// release it now (in the deferred call).
		return resp, nil
	}
	body.rc, body.cancel, body.span = resp.Body, cancel, tel.span
	resp.Body = body
	handedOff = true
	return resp, nil
}

// attemptState is an attempt's copy of the request and the wrapper of its
// response body, allocated as one.
type attemptState struct {
	req  http.Request
	body attemptBody
}

// deadlineWithin reports whether ctx has a deadline at most d from now.
func deadlineWithin(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && dl.Before(time.Now().Add(d))
}

func (t *transport) outcome(ctx context.Context, resp *http.Response, err error) breaker.Outcome {
	if ctx.Err() != nil {
		return breaker.Ignored // the caller gave up; not the server's fault
	}
	if t.breakers.isFailure(resp, err) {
		return breaker.Failure
	}
	return breaker.Success
}

// tokenAllowed reports whether a token may be attached to r: always for a
// first request, and after redirects only if every hop stayed on r's
// scheme and host.
func tokenAllowed(r *http.Request) bool {
	for prev := r.Response; prev != nil && prev.Request != nil; prev = prev.Request.Response {
		u := prev.Request.URL
		if u == nil || u.Scheme != r.URL.Scheme || !strings.EqualFold(u.Host, r.URL.Host) {
			return false
		}
	}
	return true
}

// attemptBody ends the attempt once its body is read to EOF or closed: it
// cancels the attempt's context (releasing the per-attempt timer) and ends
// its span. It is the only wrapper around a response body.
type attemptBody struct {
	rc     io.ReadCloser
	cancel context.CancelFunc // nil without a per-attempt timeout
	span   trace.Span         // nil unless recording
	done   atomic.Bool
}

func (b *attemptBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		// net/http has already returned the connection to its pool when
		// Read reports EOF, so cancelling now costs nothing.
		b.finish()
	}
	return n, err
}

func (b *attemptBody) Close() error {
	err := b.rc.Close()
	b.finish()
	return err
}

func (b *attemptBody) finish() {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	if b.cancel != nil {
		b.cancel()
	}
	if b.span != nil {
		b.span.End()
	}
}

// discard drains at most maxDrain bytes of resp's body, then closes it, so
// that a short body's connection can be reused.
func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	_ = resp.Body.Close()
}

func closeReqBody(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
}
