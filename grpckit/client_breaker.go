package grpckit

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/breaker"
)

// WithBreaker guards the unary calls of each target with a circuit breaker
// ([breaker.Breaker]) configured by p: one breaker per target, the string
// given to grpc.NewClient (ClientConn.Target), created on first use and
// kept by the options for as long as they live (targets are the program's
// own, so they are few). Clients built from the same DialOptions result
// share the breaker of a target they share. Every attempt asks the
// breaker first, retries and hedges included; streams pass through
// untouched.
//
// An attempt's outcome is a failure if its code is Unavailable,
// DeadlineExceeded, ResourceExhausted, Internal or Unknown, and a success
// otherwise (NotFound, InvalidArgument and the like are answers from a
// healthy server). p.IsFailure, if set, replaces this test: it gets the
// attempt's non-nil status error (read it with status.Code), on the
// caller's goroutine, with no lock held. An attempt whose context was
// canceled (the caller gave up, or it lost a hedge) is neither: it never
// trips the breaker, and a half-open probe ended that way frees its slot.
// An attempt that outlived the caller's deadline is a failure: gRPC has no
// per-attempt timeout, so a server that hangs is seen only that way. A
// panic in the invoker (an interceptor of yours) is a failure.
//
// While the breaker is open (or half-open with all its probes in flight)
// calls fail at once, without reaching the network, with an error whose
// gRPC status is Unavailable (status.Code and status.Convert read it
// through its GRPCStatus method, and the message names the target) and
// which matches [breaker.ErrOpen] with errors.Is. Such errors are never
// retried.
//
// p.OnStateChange is called as documented on [breaker.Policy], on the
// goroutine of the call that caused the change; it is not told which
// target changed: give each target its own DialOptions if you need to
// know, or watch the chassis.grpc.client.breaker.transitions metric,
// which has the target. Panics if p is invalid (see
// [breaker.Policy.Validate]).
func WithBreaker(p breaker.Policy) DialOption {
	if err := p.Validate(); err != nil {
		panic("grpckit.WithBreaker: " + strings.TrimPrefix(err.Error(), "breaker: "))
	}
	return dialOnly(func(c *dialConfig) { c.breaker = &p })
}

// breakerSet is the breakers of one DialOptions, by target.
type breakerSet struct {
	pol       breaker.Policy
	isFailure func(error) bool
	tel       *clientInstruments
	m         sync.Map // target → *targetBreaker
}

// targetBreaker is the breaker of one target, with what rejections need.
type targetBreaker struct {
	b          *breaker.Breaker
	openErr    error               // shared by every rejection: allocation-free
	targetOpt  metric.AddOption    // chassis.grpc.target
	stateOpts  [3]metric.AddOption // chassis.grpc.target, chassis.breaker.state, by State
	onStateUsr func(from, to breaker.State)
}

func newBreakerSet(p breaker.Policy, tel *clientInstruments) *breakerSet {
	return &breakerSet{pol: p, isFailure: p.IsFailure, tel: tel}
}

// get returns target's breaker, creating it on first use.
func (s *breakerSet) get(target string) *targetBreaker {
	if v, ok := s.m.Load(target); ok {
		return v.(*targetBreaker)
	}
	tb := &targetBreaker{
		openErr:    newOpenError(target),
		targetOpt:  metric.WithAttributeSet(attribute.NewSet(attribute.String("chassis.grpc.target", target))),
		onStateUsr: s.pol.OnStateChange,
	}
	for _, st := range []breaker.State{breaker.StateClosed, breaker.StateOpen, breaker.StateHalfOpen} {
		tb.stateOpts[st] = metric.WithAttributeSet(attribute.NewSet(
			attribute.String("chassis.grpc.target", target),
			attribute.String("chassis.breaker.state", st.String())))
	}
	p := s.pol
	p.IsFailure = nil // outcome classifies
	p.OnStateChange = func(from, to breaker.State) {
		s.tel.transition(tb, to)
		if tb.onStateUsr != nil {
			tb.onStateUsr(from, to)
		}
	}
	tb.b = breaker.New(p)
	v, _ := s.m.LoadOrStore(target, tb)
	return v.(*targetBreaker)
}

// outcome classifies an attempt's error for the breaker; ctx is the
// attempt's context.
func (s *breakerSet) outcome(ctx context.Context, err error) breaker.Outcome {
	if err == nil {
		return breaker.Success
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return breaker.Ignored // the caller gave up, or the attempt lost a hedge
	}
	if s.isFailure != nil {
		if s.isFailure(err) {
			return breaker.Failure
		}
		return breaker.Success
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Internal, codes.Unknown:
		return breaker.Failure
	}
	return breaker.Success
}

// openError is the error of a call refused by an open breaker: its gRPC
// status is Unavailable, and it matches breaker.ErrOpen.
type openError struct {
	st  *status.Status
	msg string
}

func newOpenError(target string) *openError {
	st := status.New(codes.Unavailable, "grpckit: circuit breaker open for target "+strconv.Quote(target))
	return &openError{st: st, msg: st.Err().Error()}
}

// Error returns the text of the status error: "rpc error: code =
// Unavailable desc = grpckit: circuit breaker open for target ...".
func (e *openError) Error() string { return e.msg }

// GRPCStatus lets status.FromError, status.Code and grpc-go read the
// Unavailable status.
func (e *openError) GRPCStatus() *status.Status { return e.st }

// Unwrap returns breaker.ErrOpen, so that errors.Is matches it.
func (e *openError) Unwrap() error { return breaker.ErrOpen }
