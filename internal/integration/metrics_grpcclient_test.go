package integration_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/breaker"
	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/retry"
)

// scriptedHealth answers Health.Check by the requested service name:
// "flaky" fails with Unavailable the first time, "slow" and "stall" answer
// the first call only when it is cancelled (or, for "stall", released),
// "down" always fails with Unavailable; anything else is SERVING.
type scriptedHealth struct {
	healthpb.UnimplementedHealthServer
	release chan struct{} // closed to answer the stalled call

	mu    sync.Mutex
	calls map[string]int
}

func (s *scriptedHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	s.mu.Lock()
	s.calls[req.Service]++
	n := s.calls[req.Service]
	s.mu.Unlock()
	switch {
	case req.Service == "flaky" && n == 1, req.Service == "down":
		return nil, status.Error(codes.Unavailable, "not now")
	case req.Service == "slow" && n == 1:
		<-ctx.Done() // the hedge wins, and this attempt is cancelled
		return nil, status.FromContextError(ctx.Err()).Err()
	case req.Service == "stall" && n == 1:
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-s.release:
		}
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// exerciseGRPCClient records grpckit's client instruments with one client
// per policy against a scripted health service: a retry, a hedge, a hedge
// refused by a spent retry budget, and a breaker that opens and rejects.
func exerciseGRPCClient(t *testing.T, mp *sdkmetric.MeterProvider, reader sdkmetric.Reader) {
	t.Helper()
	health := &scriptedHealth{release: make(chan struct{}), calls: map[string]int{}}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() err = %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	dial := func(opts ...grpckit.DialOption) healthpb.HealthClient {
		t.Helper()
		opts = append(opts, grpckit.WithMeterProvider(mp), grpckit.Idempotent(healthpb.Health_Check_FullMethodName))
		conn, err := grpc.NewClient(lis.Addr().String(), append(grpckit.DialOptions(opts...),
			grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		if err != nil {
			t.Fatalf("grpc.NewClient() err = %v", err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return healthpb.NewHealthClient(conn)
	}
	check := func(c healthpb.HealthClient, service string) error {
		_, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		return err
	}

	retrying := dial(grpckit.WithRetry(retry.Policy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err := check(retrying, "flaky"); err != nil {
		t.Errorf(`retrying Health.Check("flaky") err = %v; want SERVING after one retry`, err)
	}

	hedging := dial(grpckit.WithHedge(grpckit.HedgePolicy{Delay: time.Millisecond}))
	if err := check(hedging, "slow"); err != nil {
		t.Errorf(`hedging Health.Check("slow") err = %v; want SERVING from the hedge`, err)
	}

	// No retry allowed: the hedge the delay calls for is refused. The
	// first attempt is released once the refusal is counted.
	spent := retry.NewBudget(retry.BudgetConfig{Ratio: -1, MinPerSecond: -1})
	budgetless := dial(grpckit.WithRetry(retry.Policy{MaxAttempts: 1, Budget: spent}),
		grpckit.WithHedge(grpckit.HedgePolicy{Delay: time.Millisecond}))
	stalled := make(chan error, 1)
	go func() { stalled <- check(budgetless, "stall") }()
	eventually(t, "chassis.grpc.client.retry_budget.exhausted to count the refused hedge", func() bool {
		return collectedSum(t, reader, "chassis.grpc.client.retry_budget.exhausted") > 0
	})
	close(health.release)
	if err := recv(t, stalled, `Health.Check("stall") to return`); err != nil {
		t.Errorf(`Health.Check("stall") without budget err = %v; want SERVING from the first attempt`, err)
	}

	breaking := dial(grpckit.WithBreaker(breaker.Policy{ConsecutiveFailures: 1}))
	if err := check(breaking, "down"); status.Code(err) != codes.Unavailable {
		t.Errorf(`Health.Check("down") err = %v; want Unavailable`, err)
	}
	if err := check(breaking, "down"); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf(`Health.Check("down") after a failure err = %v; want breaker.ErrOpen`, err)
	}
}
