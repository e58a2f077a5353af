package grpckit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/chassis-go/chassis/breaker"
	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/retry"
)

// warmingUp answers Unavailable to its first two calls, as a server that is
// still starting does.
type warmingUp struct {
	healthpb.UnimplementedHealthServer
	calls atomic.Int32
}

func (w *warmingUp) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if w.calls.Add(1) <= 2 {
		return nil, status.Error(codes.Unavailable, "warming up")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func ExampleDialOptions_retry() {
	srv := grpc.NewServer()
	backend := &warmingUp{}
	healthpb.RegisterHealthServer(srv, backend)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	// One budget for every client of this dependency.
	budget := retry.NewBudget(retry.BudgetConfig{})
	conn, err := grpc.NewClient("passthrough:///health", append(grpckit.DialOptions(
		grpckit.WithRetry(retry.Policy{MaxAttempts: 3, BaseDelay: time.Millisecond, Budget: budget}),
		grpckit.WithBreaker(breaker.Policy{ConsecutiveFailures: 3}),
		grpckit.Idempotent(healthpb.Health_Check_FullMethodName),
	),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	fmt.Println(resp.GetStatus(), err, "after", backend.calls.Load(), "attempts")

	// A server that is gone: three failed attempts open the breaker, and
	// the next call fails at once, without reaching the network.
	srv.Stop()
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{})
	fmt.Println(status.Code(err), errors.Is(err, breaker.ErrOpen))
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{})
	fmt.Println(status.Code(err), errors.Is(err, breaker.ErrOpen))
	// Output:
	// SERVING <nil> after 3 attempts
	// Unavailable false
	// Unavailable true
}
