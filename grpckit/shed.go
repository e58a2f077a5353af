package grpckit

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chassis-go/chassis/overload"
)

// ShedConfig configures [WithShed]. Limiter is required; every other zero
// field means the documented default. WithShed copies the config.
type ShedConfig struct {
	// Limiter admits calls. Required; it may be shared with guard.Shed, so
	// that HTTP and gRPC calls draw on one limit.
	Limiter *overload.Limiter
	// Priority, if non-nil, returns a call's priority from its context and
	// full method; see [PriorityFromMetadata]. Nil means overload.Default.
	// It runs on grpc-go's transport goroutine and must not block.
	Priority func(ctx context.Context, fullMethod string) overload.Priority
	// Exempt, if non-nil, returns true for methods that skip the limiter.
	// Nil means [HealthMethod]: probes are never shed.
	Exempt func(fullMethod string) bool
	// Code is the status of a refused call: codes.ResourceExhausted (the
	// default, also for zero: clients back off as the RetryInfo asks) or
	// codes.Unavailable (clients and proxies fail over to another replica).
	// Any other code panics.
	Code codes.Code
	// RetryAfter is the google.rpc.RetryInfo retry_delay of a refusal. Zero
	// means 1s. Negative panics.
	RetryAfter time.Duration
}

// PriorityFromMetadata returns a ShedConfig.Priority that reads the first
// value of the named incoming metadata entry ("critical", "default",
// "sheddable"); anything else is Default. Trust it only from callers you
// trust: any client can claim to be critical.
func PriorityFromMetadata(name string) func(ctx context.Context, fullMethod string) overload.Priority {
	return func(ctx context.Context, _ string) overload.Priority {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get(name); len(v) > 0 {
			p, _ := overload.ParsePriority(v[0])
			return p
		}
		return overload.Default
	}
}

// WithShed adds load shedding to [ServerOptions]: every call (every stream)
// asks cfg.Limiter for a unit when grpc-go creates the stream (in the same
// grpc.InTapHandle as [WithRateLimit], after its decision), before any
// message is read or a handler goroutine started.
//   - Admitted: the unit is released when the handler returns (by the
//     chassis interceptors), or when the stream ends if no handler ran. A
//     final ResourceExhausted, Unavailable or DeadlineExceeded is Dropped,
//     Canceled is Ignored, anything else is Success.
//   - Refused: cfg.Code "server overloaded" with a RetryInfo detail. The
//     grpc-timeout deadline lets the limiter refuse at once a call that
//     could not finish in time.
//
// Given twice, the last one wins. Panics on a nil Limiter, a Code other
// than ResourceExhausted or Unavailable, or a negative RetryAfter.
func WithShed(cfg ShedConfig) ServerOption {
	if cfg.Limiter == nil {
		panic("grpckit.WithShed: cfg.Limiter is nil; build one with overload.NewLimiter(overload.Config{})")
	}
	switch cfg.Code {
	case codes.OK:
		cfg.Code = codes.ResourceExhausted
	case codes.ResourceExhausted, codes.Unavailable:
	default:
		panic("grpckit.WithShed: cfg.Code is " + cfg.Code.String() + "; use codes.ResourceExhausted or codes.Unavailable")
	}
	if cfg.RetryAfter < 0 {
		panic("grpckit.WithShed: cfg.RetryAfter is negative; use 0 for the default 1s")
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = time.Second
	}
	if cfg.Exempt == nil {
		cfg.Exempt = HealthMethod
	}
	st := status.New(cfg.Code, "server overloaded")
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(cfg.RetryAfter)}); err == nil {
		st = d
	}
	s := &shedder{cfg: cfg, refused: st.Err()}
	return serverOnly(func(o *serverConfig) { o.shed = s })
}

type shedder struct {
	cfg     ShedConfig
	refused error
}

type shedKey struct{}

// shedTicket releases a call's unit exactly once: from the interceptors
// with the final code, or when the stream's context ends.
type shedTicket struct {
	once sync.Once
	t    *overload.Ticket
	stop func() bool
}

func (h *shedTicket) done(o overload.Outcome) { h.once.Do(func() { h.t.Done(o) }) }

func (s *shedder) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	if s.cfg.Exempt(info.FullMethodName) {
		return ctx, nil
	}
	p := overload.Default
	if s.cfg.Priority != nil {
		p = s.cfg.Priority(ctx, info.FullMethodName)
	}
	t, err := s.cfg.Limiter.Acquire(ctx, p)
	if err != nil {
		if errors.Is(err, overload.ErrOverloaded) {
			return ctx, s.refused
		}
		return ctx, status.FromContextError(err).Err()
	}
	h := &shedTicket{t: t}
	ctx = context.WithValue(ctx, shedKey{}, h)
	// The stream's context ends when the stream does, handler or not.
	h.stop = context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			h.done(overload.Dropped)
		} else {
			h.done(overload.Ignored)
		}
	})
	return ctx, nil
}

// releaseShed releases the unit of the call in ctx, if it holds one, with
// the outcome its final code stands for.
func releaseShed(ctx context.Context, code codes.Code) {
	h, _ := ctx.Value(shedKey{}).(*shedTicket)
	if h == nil {
		return
	}
	h.stop()
	switch code {
	case codes.Canceled:
		h.done(overload.Ignored)
	case codes.ResourceExhausted, codes.Unavailable, codes.DeadlineExceeded:
		h.done(overload.Dropped)
	default:
		h.done(overload.Success)
	}
}
