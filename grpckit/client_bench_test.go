package grpckit_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/chassis-go/chassis/breaker"
	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/retry"
)

// BenchmarkDialOptions measures one successful unary RPC over bufconn
// through a bare client, through DialOptions alone (the otelgrpc client
// handler) and with the resilience options, with no-op telemetry
// providers, so that the numbers show the interceptor's own cost.
func BenchmarkDialOptions(b *testing.B) {
	otel := []grpckit.DialOption{
		grpckit.WithTracerProvider(tracenoop.NewTracerProvider()),
		grpckit.WithMeterProvider(noop.NewMeterProvider()),
	}
	resilient := append(otel[:len(otel):len(otel)],
		grpckit.WithRetry(retry.Policy{Budget: retry.NewBudget(retry.BudgetConfig{})}),
		grpckit.WithBreaker(breaker.Policy{}),
		grpckit.Idempotent(checkMethod))
	cases := []struct {
		name  string
		dopts []grpc.DialOption
	}{
		{"bare", nil},
		{"dialoptions", grpckit.DialOptions(otel...)},
		{"dialoptions+retry+breaker", grpckit.DialOptions(resilient...)},
		{"dialoptions+retry+breaker+hedge", grpckit.DialOptions(append(resilient,
			grpckit.WithHedge(grpckit.HedgePolicy{Delay: time.Second}))...)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			conn := startServer(b, nil, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, scriptedHealth{}) }, c.dopts...)
			client := healthpb.NewHealthClient(conn)
			req := &healthpb.HealthCheckRequest{Service: bOK}
			ctx := context.Background()
			if _, err := client.Check(ctx, req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
