package grpckit

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"

	"github.com/chassis-go/chassis/breaker"
)

// HedgePolicy configures hedged calls ([WithHedge]): when an attempt has
// had no answer for Delay, the client sends the same call again without
// cancelling the first, and the first answer wins. This cuts the tail
// latency that a few slow servers or connections add, for little extra
// load: only the slowest calls are hedged. It mirrors call.HedgePolicy.
//
// The zero HedgePolicy is invalid (Delay must be set). A HedgePolicy is a
// plain value: [WithHedge] copies it.
type HedgePolicy struct {
	// Delay is how long an attempt may go without an answer before a
	// hedge is sent, and then between hedges. Set it near the
	// dependency's 95th-percentile latency: about 5% of calls are then
	// hedged. It must be positive.
	Delay time.Duration

	// MaxHedges is how many hedges at most are sent for one try, besides
	// the attempt itself. Zero means 1. Negative panics.
	MaxHedges int
}

// WithHedge hedges the unary calls of idempotent methods (see
// [Idempotent]) under p. Calls of other methods and streams are never
// hedged, and neither are calls whose reply is not a proto.Message (each
// attempt needs a reply of its own).
//
// The first attempt to end with OK, or with an error that would not be
// retried (see [WithRetry]; NotFound, InvalidArgument ...), wins: its
// reply, header, trailer and peer are what the caller gets (through the
// reply message and grpc.Header, grpc.Trailer and grpc.Peer call options).
// A retryable error does not win: the client waits for the other attempts
// in flight, and returns the last error only when all have failed. The
// losers' contexts are canceled (the server sees its handler's context
// canceled) and the call returns only after every attempt has returned,
// so no goroutine outlives it; a panic in an attempt (in an interceptor of
// yours) is raised again on the caller's goroutine once all have returned.
//
// Each hedge spends one retry from the retry Budget of [WithRetry], if it
// has one, so a dependency that is slow for everyone does not get twice
// its load; no hedge is sent while the target's breaker ([WithBreaker]) is
// not closed, so a recovering server gets only its probes. Each hedge is
// an attempt of its own, with its own breaker admission and client span,
// and counts in the chassis.grpc.client.hedges counter. With WithRetry,
// each try is hedged: a retry, after backoff, may be hedged again.
// Panics if p is invalid (see HedgePolicy).
func WithHedge(p HedgePolicy) DialOption {
	switch {
	case p.Delay <= 0:
		panic("grpckit.WithHedge: Delay is not positive; set it near the dependency's 95th-percentile latency")
	case p.MaxHedges < 0:
		panic("grpckit.WithHedge: MaxHedges is negative; use 0 for the default 1")
	}
	if p.MaxHedges == 0 {
		p.MaxHedges = 1
	}
	return dialOnly(func(c *dialConfig) { c.hedge = &p })
}

// hedgeResult is what one attempt of a hedged try came to.
type hedgeResult struct {
	result
	k        int // which attempt: 0 is the first
	reply    proto.Message
	out      outputs // this attempt's header, trailer and peer
	panicked bool    // the attempt panicked with pv
	pv       any
}

// hedged runs an attempt on its own goroutine and, each time Delay passes
// without an answer, a hedge, up to MaxHedges. The first winning answer
// (see WithHedge) is copied into the caller's reply and outputs; the other
// attempts are canceled and awaited.
func (u *unaryCall) hedged(ctx context.Context) result {
	msg, ok := u.reply.(proto.Message)
	if !ok {
		return u.attempt(ctx, u.reply, u.opts)
	}
	h := u.c.hedge
	want, rest := splitOutputs(u.opts)
	results := make(chan hedgeResult, h.MaxHedges+1)
	cancels := make([]context.CancelFunc, 0, h.MaxHedges+1)
	start := func() {
		actx, cancel := context.WithCancel(ctx)
		cancels = append(cancels, cancel)
		hr := hedgeResult{k: len(cancels) - 1, reply: msg.ProtoReflect().New().Interface()}
		go func() {
			defer func() {
				if v := recover(); v != nil {
					hr.panicked, hr.pv = true, v
				}
				results <- hr
			}()
			hr.result = u.attempt(actx, hr.reply, hr.out.callOptions(rest, want))
		}()
	}
	timer := time.NewTimer(h.Delay)
	defer timer.Stop()
	tick := timer.C
	start()
	pending := 1
	var last hedgeResult
	for {
		select {
		case r := <-results:
			pending--
			if r.panicked {
				u.settle(cancels, results, pending, -1)
				panic(r.pv)
			}
			if r.err != nil && !u.final(ctx, r.result) {
				cancels[r.k]()
				last = r
				if pending > 0 {
					continue
				}
				want.set(&last.out)
				return last.result
			}
			if pv, panicked := u.settle(cancels, results, pending, r.k); panicked {
				cancels[r.k]()
				panic(pv)
			}
			cancels[r.k]()
			if r.err == nil {
				proto.Reset(msg)
				proto.Merge(msg, r.reply)
			}
			want.set(&r.out)
			return r.result
		case <-tick:
			tick = nil
			if !u.mayHedge(ctx) {
				continue
			}
			start()
			pending++
			u.c.tel.hedged(ctx, u.method)
			if len(cancels) <= h.MaxHedges {
				timer.Reset(h.Delay)
				tick = timer.C
			}
		}
	}
}

// final reports whether an attempt's error is the call's answer, which
// ends a hedged try: an error that would not be retried, other than an
// open breaker's refusal (the other attempts may still answer).
func (u *unaryCall) final(ctx context.Context, r result) bool {
	if errors.Is(r.err, breaker.ErrOpen) {
		return false
	}
	_, retryable := u.c.classify(ctx, r)
	return !retryable
}

// mayHedge reports whether a hedge may be sent now: the caller is still
// waiting, the target's breaker is closed, and the retry budget has room
// (it spends one retry).
func (u *unaryCall) mayHedge(ctx context.Context) bool {
	if ctx.Err() != nil || (u.br != nil && u.br.b.State() != breaker.StateClosed) {
		return false
	}
	if b := u.c.budget; b != nil && !b.TryWithdraw() {
		u.c.tel.budgetExhausted(ctx, u.method)
		return false
	}
	return true
}

// settle cancels every attempt but the winner (-1: none) and waits for the
// pending ones. It reports the first panic among them.
func (u *unaryCall) settle(cancels []context.CancelFunc, results <-chan hedgeResult, pending, winner int) (pv any, panicked bool) {
	for k, cancel := range cancels {
		if k != winner {
			cancel()
		}
	}
	for ; pending > 0; pending-- {
		if r := <-results; r.panicked && !panicked {
			pv, panicked = r.pv, true
		}
	}
	return pv, panicked
}

// outputs are the addresses that the grpc.Header, grpc.Trailer and
// grpc.Peer call options write to. Concurrent attempts must not share
// the caller's: each writes its own, and the winner's are copied.
type outputs struct {
	header, trailer *metadata.MD
	peer            *peer.Peer
}

// splitOutputs returns the output options among opts and the other
// options.
func splitOutputs(opts []grpc.CallOption) (outputs, []grpc.CallOption) {
	var out outputs
	rest := make([]grpc.CallOption, 0, len(opts))
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			out.header = o.HeaderAddr
		case grpc.TrailerCallOption:
			out.trailer = o.TrailerAddr
		case grpc.PeerCallOption:
			out.peer = o.PeerAddr
		default:
			rest = append(rest, o)
		}
	}
	return out, rest
}

// callOptions returns rest plus options writing into o for each output the
// caller asked for (want).
func (o *outputs) callOptions(rest []grpc.CallOption, want outputs) []grpc.CallOption {
	opts := make([]grpc.CallOption, len(rest), len(rest)+3)
	copy(opts, rest)
	if want.header != nil {
		o.header = new(metadata.MD)
		opts = append(opts, grpc.Header(o.header))
	}
	if want.trailer != nil {
		o.trailer = new(metadata.MD)
		opts = append(opts, grpc.Trailer(o.trailer))
	}
	if want.peer != nil {
		o.peer = new(peer.Peer)
		opts = append(opts, grpc.Peer(o.peer))
	}
	return opts
}

// set copies an attempt's outputs to the caller's.
func (o *outputs) set(from *outputs) {
	if o.header != nil && from.header != nil {
		*o.header = *from.header
	}
	if o.trailer != nil && from.trailer != nil {
		*o.trailer = *from.trailer
	}
	if o.peer != nil && from.peer != nil {
		*o.peer = *from.peer
	}
}
