package grpckit_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/guard"
)

// BenchmarkUnary measures one unary RPC over bufconn through a bare server
// and through ServerOptions, with no-op telemetry providers so that the
// numbers show the chassis interceptors and the otelgrpc handler's own cost,
// not an exporter's.
func BenchmarkUnary(b *testing.B) {
	otelOpts := []grpckit.ServerOption{
		grpckit.WithTracerProvider(tracenoop.NewTracerProvider()),
		grpckit.WithMeterProvider(noop.NewMeterProvider()),
	}
	limiter := guard.NewMemoryLimiter(guard.Limit{Rate: 1 << 20, Per: time.Second})
	json := slog.New(slog.NewJSONHandler(io.Discard, nil))
	cases := []struct {
		name  string
		sopts func() []grpc.ServerOption
	}{
		{"bare", func() []grpc.ServerOption { return nil }},
		{"otelgrpc-only", func() []grpc.ServerOption {
			return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
				otelgrpc.WithTracerProvider(tracenoop.NewTracerProvider()),
				otelgrpc.WithMeterProvider(noop.NewMeterProvider())))}
		}},
		{"chassis/log-disabled", func() []grpc.ServerOption {
			return grpckit.ServerOptions(slog.New(slog.DiscardHandler), otelOpts...)
		}},
		{"chassis/log-json", func() []grpc.ServerOption {
			return grpckit.ServerOptions(json, otelOpts...)
		}},
		{"chassis/log-json+ratelimit", func() []grpc.ServerOption {
			return grpckit.ServerOptions(json, append(otelOpts, grpckit.WithRateLimit(grpckit.RateLimitConfig{
				Limiter: limiter,
				Key:     func(context.Context) (string, error) { return "k", nil },
				Exempt:  func(string) bool { return false },
			}))...)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			conn := startServer(b, c.sopts(), func(s *grpc.Server) { healthpb.RegisterHealthServer(s, scriptedHealth{}) })
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
