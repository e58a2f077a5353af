package grpckit_test

import (
	"context"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/overload"
)

func TestShed(t *testing.T) {
	t.Parallel()
	l := overload.NewLimiter(overload.Config{Algorithm: overload.Fixed(10)})
	sopts := grpckit.ServerOptions(slog.New(newRecorder()), grpckit.WithShed(grpckit.ShedConfig{
		Limiter:  l,
		Priority: grpckit.PriorityFromMetadata("x-priority"),
		Exempt:   chargeAll,
	}))
	conn := startServer(t, sopts, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, scriptedHealth{}) })
	client := healthpb.NewHealthClient(conn)
	check := func(prio string) error {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "x-priority", prio)
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: bOK})
		return err
	}
	if err := check("sheddable"); err != nil {
		t.Fatalf("Check with room = %v", err)
	}
	// Hold 8 of 10 units: sheddable (75%: 7) is refused, critical (10) admitted.
	var held []*overload.Ticket
	for range 8 {
		tk, _ := l.Acquire(context.Background(), overload.Critical)
		held = append(held, tk)
	}
	err := check("sheddable")
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || st.Message() != "server overloaded" {
		t.Errorf("sheddable Check near the limit = %v; want ResourceExhausted server overloaded", err)
	}
	if d, ok := retryDelay(err); !ok || d.Seconds() != 1 {
		t.Errorf("RetryInfo = %v, %v; want 1s", d, ok)
	}
	if err := check("critical"); err != nil {
		t.Errorf("critical Check near the limit = %v; want admitted", err)
	}
	// Watch streams release their unit when the handler returns.
	stream, err := client.Watch(metadata.AppendToOutgoingContext(t.Context(), "x-priority", "critical"), &healthpb.HealthCheckRequest{Service: bOK})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := stream.Recv(); err != nil {
			break
		}
	}
	for _, tk := range held {
		tk.Done(overload.Ignored)
	}
	if n := l.InFlight(); n != 0 {
		t.Errorf("InFlight() after all calls = %d; want 0", n)
	}
}
