package grpckit_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/breaker"
	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/retry"
)

// slowFirst makes the first call hang until its context ends, reporting
// the cancellation on canceled, and answers the others at once with the
// call number in the header "n".
func slowFirst(canceled chan<- error) func(context.Context, int) error {
	return func(ctx context.Context, n int) error {
		_ = grpc.SetHeader(ctx, metadata.Pairs("n", strconv.Itoa(n)))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("t", strconv.Itoa(n)))
		if n == 1 {
			<-ctx.Done()
			canceled <- ctx.Err()
			return ctx.Err()
		}
		return nil
	}
}

// A slow first attempt is hedged: the hedge wins, its header reaches the
// caller, and the loser is canceled (its handler sees the cancellation)
// before the call returns.
func TestWithHedgeWins(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	canceled := make(chan error, 1)
	client, srv := serveFlaky(t, slowFirst(canceled),
		grpckit.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
		grpckit.WithHedge(grpckit.HedgePolicy{Delay: time.Millisecond}), grpckit.Idempotent(checkMethod))
	var header, trailer metadata.MD
	var p peer.Peer
	resp, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}, grpc.Header(&header), grpc.Trailer(&trailer), grpc.Peer(&p))
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check() = %v, %v; want SERVING from the hedge", resp, err)
	}
	if got := header.Get("n"); len(got) != 1 || got[0] != "2" {
		t.Errorf("header n = %v; want the hedge's [2]", got)
	}
	if got := trailer.Get("t"); len(got) != 1 || got[0] != "2" {
		t.Errorf("trailer t = %v; want the hedge's [2]", got)
	}
	if p.Addr == nil {
		t.Error("peer address = nil; want the hedge's peer")
	}
	select {
	case err := <-canceled:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("loser's handler context err = %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the loser's handler never saw its context canceled")
	}
	if n := srv.count(); n != 2 {
		t.Errorf("server calls = %d; want 2", n)
	}
	if got := counters(t, reader)["chassis.grpc.client.hedges/rpc.method=grpc.health.v1.Health/Check"]; got != 1 {
		t.Errorf("chassis.grpc.client.hedges = %d; want 1", got)
	}
}

// Calls that must not be sent twice are never hedged.
func TestWithHedgeNotIdempotent(t *testing.T) {
	t.Parallel()
	client, srv := serveFlaky(t, func(context.Context, int) error {
		time.Sleep(5 * time.Millisecond)
		return nil
	}, grpckit.WithHedge(grpckit.HedgePolicy{Delay: time.Millisecond, MaxHedges: 3}), grpckit.Idempotent(checkMethod))
	if _, err := client.List(t.Context(), &healthpb.HealthListRequest{}); err != nil {
		t.Fatalf("List() err = %v", err)
	}
	if n := srv.count(); n != 1 {
		t.Errorf("server calls = %d; want 1 (List is not idempotent)", n)
	}
}

// An error that would not be retried is the answer: it ends the hedged try
// at once. A retryable one waits for the other attempts.
func TestWithHedgeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		other error // the answer of the attempts after the first
		want  codes.Code
	}{
		{"final error wins", status.Error(codes.NotFound, "gone"), codes.NotFound},
		{"retryable error waits", errUnavailable, codes.Unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			canceled := make(chan error, 1)
			release := make(chan struct{})
			client, srv := serveFlaky(t, func(ctx context.Context, n int) error {
				if n > 1 {
					return tc.other
				}
				select {
				case <-ctx.Done():
					canceled <- ctx.Err()
					return ctx.Err()
				case <-release:
					return errUnavailable
				}
			}, grpckit.WithHedge(grpckit.HedgePolicy{Delay: time.Millisecond}), grpckit.Idempotent(checkMethod))
			if tc.want == codes.Unavailable {
				// The first attempt fails once the hedge has.
				go func() {
					for srv.count() < 2 {
						time.Sleep(time.Millisecond)
					}
					close(release)
				}()
			}
			_, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{})
			if status.Code(err) != tc.want {
				t.Errorf("Check() err = %v; want %v", err, tc.want)
			}
			if tc.want == codes.NotFound {
				if err := <-canceled; !errors.Is(err, context.Canceled) {
					t.Errorf("first attempt's context err = %v; want canceled", err)
				}
			}
		})
	}
}

// Hedges spend the retry budget: with none left, no hedge is sent.
func TestWithHedgeBudget(t *testing.T) {
	t.Parallel()
	canceled := make(chan error, 1)
	p := retry.Policy{MaxAttempts: 1, Budget: retry.NewBudget(retry.BudgetConfig{Ratio: -1, MinPerSecond: -1})}
	reader := sdkmetric.NewManualReader()
	client, srv := serveFlaky(t, func(ctx context.Context, _ int) error {
		select {
		case <-ctx.Done():
			canceled <- ctx.Err()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
			return nil
		}
	}, grpckit.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
		grpckit.WithRetry(p), grpckit.WithHedge(grpckit.HedgePolicy{Delay: time.Millisecond}), grpckit.Idempotent(checkMethod))
	if _, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check() err = %v", err)
	}
	if n := srv.count(); n != 1 {
		t.Errorf("server calls = %d; want 1: the budget allows no hedge", n)
	}
	if got := counters(t, reader)["chassis.grpc.client.retry_budget.exhausted/rpc.method=grpc.health.v1.Health/Check"]; got != 1 {
		t.Errorf("chassis.grpc.client.retry_budget.exhausted = %d; want 1", got)
	}
}

// No hedge is sent while the breaker is not closed: a half-open breaker's
// probe is not doubled.
func TestWithHedgeBreakerHalfOpen(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var probing atomic.Bool
	var probes atomic.Int32
	client, _ := serveFlaky(t, func(context.Context, int) error {
		if !probing.Load() {
			return errUnavailable
		}
		probes.Add(1)
		time.Sleep(10 * time.Millisecond) // ten hedge delays
		return nil
	}, grpckit.WithHedge(grpckit.HedgePolicy{Delay: time.Millisecond}), grpckit.Idempotent(checkMethod),
		grpckit.WithBreaker(breaker.Policy{ConsecutiveFailures: 1, OpenTimeout: time.Minute, HalfOpenProbes: 2, Clock: clock.Now}))
	if _, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("Check() = %v; want Unavailable, which opens the breaker", err)
	}
	probing.Store(true)
	clock.Advance(time.Minute)
	if _, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check() as the probe = %v; want success", err)
	}
	if n := probes.Load(); n != 1 {
		t.Errorf("server calls while half-open = %d; want 1: the probe is not hedged", n)
	}
}

// With retries, each try is hedged; a panic in an attempt (an interceptor
// of the caller's) reaches the caller's goroutine after every attempt has
// returned.
func TestWithHedgePanic(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	boom := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if calls.Add(1) == 1 {
			<-ctx.Done() // the first attempt waits for the hedge's panic to cancel it
			return ctx.Err()
		}
		panic("boom")
	}
	srv := &flakyHealth{script: failFirst(0, nil)}
	dopts := append(grpckit.DialOptions(grpckit.WithHedge(grpckit.HedgePolicy{Delay: time.Millisecond}), grpckit.Idempotent(checkMethod)),
		grpc.WithChainUnaryInterceptor(boom))
	conn := startServer(t, nil, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, srv) }, dopts...)
	defer func() {
		if v := recover(); v != "boom" {
			t.Errorf("recovered %v; want the attempt's panic \"boom\"", v)
		}
	}()
	_, _ = healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	t.Error("Check() returned; want the attempt's panic")
}

// With retries, every try may be hedged: a try whose attempts all fail
// with Unavailable is retried, and the retry is hedged again.
func TestWithHedgeAndRetry(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	client, srv := serveFlaky(t, func(ctx context.Context, n int) error {
		switch n {
		case 1: // the first try's attempt: slow, then fails
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
				return errUnavailable
			}
		case 2: // the first try's hedge fails at once
			return errUnavailable
		}
		return nil
	}, grpckit.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
		grpckit.WithRetry(fastRetry), grpckit.WithHedge(grpckit.HedgePolicy{Delay: time.Millisecond}), grpckit.Idempotent(checkMethod))
	if _, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check() err = %v; want success on the retry", err)
	}
	c := counters(t, reader)
	if n := srv.count(); n < 3 || c["chassis.grpc.client.retries/rpc.method=grpc.health.v1.Health/Check"] != 1 ||
		c["chassis.grpc.client.hedges/rpc.method=grpc.health.v1.Health/Check"] < 1 {
		t.Errorf("server calls = %d, metrics = %v; want at least 3 calls, 1 retry and a hedge", n, c)
	}
}
