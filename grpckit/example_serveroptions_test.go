package grpckit_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/problem"
)

// notes stands in for a generated service: its Check looks up a note named
// after the requested service and returns problems as an HTTP handler would.
type notes struct {
	healthpb.UnimplementedHealthServer
}

func (notes) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if req.GetService() != "groceries" {
		return nil, fmt.Errorf("load note: %w", problem.NotFound("no note named "+req.GetService()))
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func ExampleServerOptions() {
	// A text logger without the changing fields, for a stable output.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "duration", "peer":
				return slog.Attr{}
			}
			return a
		},
	}))

	srv := grpc.NewServer(grpckit.ServerOptions(logger)...)
	healthpb.RegisterHealthServer(srv, notes{})
	lis := bufconn.Listen(1 << 20) // net.Listen("tcp", ":9090") in a service
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, err := grpc.NewClient("passthrough:///notes", append(grpckit.DialOptions(),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	_, err = client.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "todo"})
	st := status.Convert(err)
	fmt.Println("client got:", st.Code(), st.Message())
	// Output:
	// level=INFO msg="grpc request" method=/grpc.health.v1.Health/Check code=NotFound error="load note: problem: 404 Not Found: no note named todo"
	// client got: NotFound no note named todo
}
