package grpckit_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/guard"
)

func ExampleWithRateLimit() {
	// One call per minute per API key (a fixed clock keeps the output stable).
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	limiter := guard.NewMemoryLimiter(guard.Limit{Rate: 1, Per: time.Minute, Burst: 1},
		guard.WithClock(func() time.Time { return start }))
	srv := grpc.NewServer(grpckit.ServerOptions(slog.New(slog.DiscardHandler),
		grpckit.WithRateLimit(grpckit.RateLimitConfig{
			Limiter: limiter,
			Key:     grpckit.KeyFromMetadata("x-api-key"),
			// The example's service is registered as the health service,
			// whose methods are exempt by default (grpckit.HealthMethod);
			// charge every call instead.
			Exempt: func(string) bool { return false },
		}))...)
	healthpb.RegisterHealthServer(srv, notes{})
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, err := grpc.NewClient("passthrough:///notes",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "k-123")

	for range 2 {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "groceries"})
		st := status.Convert(err)
		fmt.Printf("%v %q\n", st.Code(), st.Message())
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				fmt.Println("retry in", ri.GetRetryDelay().AsDuration())
			}
		}
	}
	// Without a key the client cannot be identified.
	_, err = client.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "groceries"})
	fmt.Printf("%v %q\n", status.Code(err), status.Convert(err).Message())
	// Output:
	// OK ""
	// ResourceExhausted "rate limit exceeded"
	// retry in 1m0s
	// InvalidArgument "cannot identify client"
}
