package call

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// HedgePolicy configures hedged requests ([WithHedge]): when an attempt has
// had no response for Delay, the Client sends the same request again
// without cancelling the first, and the first response to arrive wins. This
// cuts the tail latency that a few slow servers or connections add, for
// little extra load: only the slowest requests are hedged.
//
// Hedged, like retried, requests must be safe to send twice: only requests
// that may be retried are hedged (idempotent, or with an Idempotency-Key
// header, or RetryPolicy.RetryNonIdempotent; with a replayable body; see
// [RetryPolicy]). Every hedge spends one retry from the Client's retry
// budget ([RetryBudget]), so a dependency that is slow for everyone does
// not get twice its load (with RetryBudget.Unlimited, only MaxHedges
// bounds them); no hedge is sent while the host's breaker is not closed,
// so a recovering host gets only its probes.
//
// The first response (any status) wins; an error does not: the Client
// waits for the other attempts in flight and returns the last error only
// when all have failed. The losers are cancelled, and their responses, if
// any arrived, drained (at most 64 KiB) and closed, before Do returns. A
// HedgePolicy is a plain value: [WithHedge] copies it.
type HedgePolicy struct {
	// Delay is how long an attempt may go without a response before a
	// hedge is sent, and then between hedges. Set it near the
	// dependency's 95th-percentile latency: about 5% of requests are then
	// hedged. It must be positive.
	Delay time.Duration

	// MaxHedges is how many hedges at most are sent for one attempt,
	// besides the attempt itself. Zero means 1. Negative panics.
	MaxHedges int
}

func (p HedgePolicy) validate() {
	switch {
	case p.Delay <= 0:
		panic("call.WithHedge: Delay is not positive; set it near the dependency's 95th-percentile latency")
	case p.MaxHedges < 0:
		panic("call.WithHedge: MaxHedges is negative; use 0 for the default 1")
	}
}

// WithHedge makes the Client send hedged requests under p (see
// [HedgePolicy]). Without this option the Client never hedges. Hedging
// applies to each attempt: a retry, after backoff, may be hedged again.
// Each hedge is an attempt of its own, with its own breaker admission,
// token, per-attempt timeout and span, and counts in the
// chassis.call.hedges counter.
// Panics if p is invalid (see HedgePolicy).
func WithHedge(p HedgePolicy) Option {
	p.validate()
	if p.MaxHedges == 0 {
		p.MaxHedges = 1
	}
	return func(o *options) { o.hedge = &p }
}

// hedgeResult is what one attempt of a hedged try came to.
type hedgeResult struct {
	resp     *http.Response
	err      error
	k        int  // which attempt: 0 is the first
	panicked bool // the attempt panicked with pv
	pv       any
}

// try sends one try of req: one attempt, or, if req may be hedged, an
// attempt and its hedges. sent counts the attempts sent so far for req.
func (t *transport) try(ctx context.Context, req *http.Request, sent *int, br *hostBreaker, hedgeable bool) (*http.Response, error) {
	if t.hedge == nil || !hedgeable {
		*sent++
		return t.attempt(ctx, req, *sent, br)
	}
	return t.hedged(ctx, req, sent, br)
}

// hedged runs an attempt of req on its own goroutine and, each time Delay
// passes without a response, a hedge, up to MaxHedges. The first response
// wins; the others are cancelled and awaited, so that no goroutine
// outlives the call. A panic in an attempt is raised again here, on the
// caller's goroutine, once every attempt has returned.
func (t *transport) hedged(ctx context.Context, req *http.Request, sent *int, br *hostBreaker) (*http.Response, error) {
	h := t.hedge
	results := make(chan hedgeResult, h.MaxHedges+1)
	cancels := make([]context.CancelFunc, 0, h.MaxHedges+1)
	start := func() {
		actx, cancel := context.WithCancel(ctx)
		cancels = append(cancels, cancel)
		*sent++
		k, n := len(cancels)-1, *sent
		go func() {
			r := hedgeResult{k: k}
			defer func() {
				if v := recover(); v != nil {
					r = hedgeResult{k: k, panicked: true, pv: v}
				}
				results <- r
			}()
			r.resp, r.err = t.attempt(actx, req, n, br)
		}()
	}
	timer, stop := t.hedgeTimer(h.Delay)
	defer func() { stop() }()
	start()
	pending := 1
	var lastErr error
	for {
		select {
		case r := <-results:
			pending--
			if r.panicked {
				t.settle(cancels, results, pending, -1)
				panic(r.pv)
			}
			if r.err != nil {
				cancels[r.k]()
				lastErr = r.err
				if pending == 0 {
					return nil, lastErr
				}
				continue
			}
			if pv, panicked := t.settle(cancels, results, pending, r.k); panicked {
				discard(r.resp)
				cancels[r.k]()
				panic(pv)
			}
			return winner(r.resp, cancels[r.k]), nil
		case <-timer:
			stop()
			timer = nil
			if !t.mayHedge(ctx, br) {
				continue
			}
			start()
			pending++
			t.tel.hedged(ctx)
			if len(cancels) <= h.MaxHedges {
				timer, stop = t.hedgeTimer(h.Delay)
			}
		}
	}
}

// mayHedge reports whether a hedge may be sent now: the caller is still
// waiting, the host's breaker is closed, and the retry budget has room (it
// spends one retry).
func (t *transport) mayHedge(ctx context.Context, br *hostBreaker) bool {
	if ctx.Err() != nil || (br != nil && br.State() != StateClosed) {
		return false
	}
	if t.budget != nil && !t.budget.TryWithdraw() {
		t.tel.budgetExhausted(ctx)
		return false
	}
	return true
}

// settle cancels every attempt but the winner (-1: none), waits for the
// pending ones and discards their responses. It reports the first panic
// among them.
func (t *transport) settle(cancels []context.CancelFunc, results <-chan hedgeResult, pending, winner int) (pv any, panicked bool) {
	for k, cancel := range cancels {
		if k != winner {
			cancel()
		}
	}
	for ; pending > 0; pending-- {
		r := <-results
		if r.resp != nil {
			discard(r.resp)
		}
		if r.panicked && !panicked {
			pv, panicked = r.pv, true
		}
	}
	return pv, panicked
}

// hedgeTimer returns a channel that fires after d, and a function that
// stops it. Tests replace it through options.hedgeTimer.
func (t *transport) hedgeTimer(d time.Duration) (<-chan time.Time, func()) {
	if t.hedgeAfter != nil {
		return t.hedgeAfter(d), func() {}
	}
	tm := time.NewTimer(d)
	return tm.C, func() { tm.Stop() }
}

// winner returns the winning response, whose body now also releases the
// winning attempt's context when read to EOF or closed.
func winner(resp *http.Response, cancel context.CancelFunc) *http.Response {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// net/http no longer watches the context of a 101's connection.
		cancel()
		return resp
	}
	resp.Body = &hedgeBody{rc: resp.Body, cancel: cancel}
	return resp
}

// hedgeBody cancels the winning attempt's context once its body is done.
type hedgeBody struct {
	rc     io.ReadCloser
	cancel context.CancelFunc
	done   atomic.Bool
}

func (b *hedgeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.finish()
	}
	return n, err
}

func (b *hedgeBody) Close() error {
	err := b.rc.Close()
	b.finish()
	return err
}

func (b *hedgeBody) finish() {
	if b.done.CompareAndSwap(false, true) {
		b.cancel()
	}
}
