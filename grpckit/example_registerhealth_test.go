package grpckit_test

import (
	"context"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"

	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/health"
)

func ExampleRegisterHealth() {
	checker := health.New()
	checker.Add("postgres", func(context.Context) error { return nil })
	checker.Add("cache", func(context.Context) error { return errors.New("connection refused") }, health.NonCritical())

	srv := grpc.NewServer()
	hs := grpckit.RegisterHealth(srv, checker, grpckit.MapService("notes.v1.Notes", "postgres"))
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	// In a service, run hs.Run next to grpckit.Serve in lifecycle.Run;
	// here one Sync publishes one report.
	if err := hs.Sync(context.Background()); err != nil {
		fmt.Println(err)
		return
	}

	conn, err := grpc.NewClient("passthrough:///health",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	for _, service := range []string{"", "notes.v1.Notes", "postgres", "cache"} {
		resp, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
		fmt.Printf("%q %v %v\n", service, resp.GetStatus(), err)
	}

	checker.SetDraining() // on shutdown: everything NOT_SERVING at the next Sync
	_ = hs.Sync(context.Background())
	resp, _ := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
	fmt.Println("draining:", resp.GetStatus())
	// Output:
	// "" SERVING <nil>
	// "notes.v1.Notes" SERVING <nil>
	// "postgres" SERVING <nil>
	// "cache" NOT_SERVING <nil>
	// draining: NOT_SERVING
}
