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

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
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
// first: Retry(Budget(Breaker(Token(PerAttemptTimeout(Tracing(base)))))).
type transport struct {
	base         http.RoundTripper
	timeout      time.Duration
	timeoutCause error
	now          func() time.Time
	sleep        func(ctx context.Context, d time.Duration) error
	retry        *retryer
	budget       *budget
	breakers     *breakerSet
	tokens       *tokenCache
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
	canRetry := t.retry.maxAttempts > 1 && t.retry.allowed(req)
	if t.budget != nil {
		t.budget.deposit(t.now())
	}
	var br *breaker
	if t.breakers != nil {
		br = t.breakers.get(req.URL.Host)
	}
	for attempt := 1; ; attempt++ {
		resp, err := t.attempt(ctx, req, attempt, br)
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
		if t.budget != nil && !t.budget.withdraw(t.now()) {
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

// attempt sends one try of req. It consults the breaker first and records
// the outcome in it; a caller's cancellation is recorded as neither success
// nor failure.
func (t *transport) attempt(ctx context.Context, req *http.Request, n int, br *breaker) (*http.Response, error) {
	var gen uint64
	if br != nil {
		var ok bool
		if gen, ok = br.allow(); !ok {
			t.tel.breakerRejected(ctx)
			if n == 1 {
				closeReqBody(req)
			}
			return nil, br.openErr
		}
	}
	var token string
	if t.tokens != nil && req.Header.Get("Authorization") == "" && tokenAllowed(req) {
		var err error
		if token, err = t.tokens.token(ctx); err != nil {
			if br != nil {
				br.record(gen, outcomeIgnored)
			}
			if n == 1 {
				closeReqBody(req)
			}
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, &finalError{fmt.Errorf("call: token: %w", err)}
		}
	}

	actx, cancel := ctx, context.CancelFunc(nil)
	if t.timeout > 0 {
		actx, cancel = context.WithTimeoutCause(ctx, t.timeout, t.timeoutCause)
	}
	actx, tel := t.tel.startAttempt(actx, req, n-1)
	r := req.WithContext(actx) // shallow: the caller's header map is shared until copied below
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
		body, err := req.GetBody()
		if err != nil {
			err = &finalError{fmt.Errorf("call: replay request body: %w", err)}
			tel.end(actx, r, nil, err)
			if cancel != nil {
				cancel()
			}
			if br != nil {
				br.record(gen, outcomeIgnored)
			}
			return nil, err
		}
		r.Body = body
	}

	resp, err := t.base.RoundTrip(r)
	switch {
	case err == nil && resp == nil:
		err = errors.New("call: base transport returned neither a response nor an error")
	case err != nil && resp != nil:
		if resp.Body != nil {
			_ = resp.Body.Close()
		}
		resp = nil
	}
	if br != nil {
		br.record(gen, t.outcome(ctx, br, resp, err))
	}
	tel.end(actx, r, resp, err)
	if err != nil {
		if cancel != nil {
			cancel()
		}
		return nil, err
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if cancel == nil && tel.span == nil {
		return resp, nil
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The connection now belongs to the caller; net/http no longer
		// watches the attempt's context, so release it now.
		if cancel != nil {
			cancel()
		}
		if tel.span != nil {
			tel.span.End()
		}
		return resp, nil
	}
	resp.Body = &attemptBody{rc: resp.Body, cancel: cancel, span: tel.span}
	return resp, nil
}

func (t *transport) outcome(ctx context.Context, br *breaker, resp *http.Response, err error) outcome {
	if ctx.Err() != nil {
		return outcomeIgnored // the caller gave up; not the server's fault
	}
	if br.set.pol.isFailure(resp, err) {
		return outcomeFailure
	}
	return outcomeSuccess
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
