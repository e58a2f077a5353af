package grpckit_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/lifecycle"
)

// blockingHealth is a HealthServer whose Check announces itself on entered
// and then waits for release (answering SERVING) or for its context.
type blockingHealth struct {
	healthpb.UnimplementedHealthServer
	entered chan struct{}
	release chan struct{}
	done    chan error // the handler's result, once it returned
}

func newBlockingHealth() *blockingHealth {
	return &blockingHealth{entered: make(chan struct{}, 1), release: make(chan struct{}), done: make(chan error, 1)}
}

func (b *blockingHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		b.done <- nil
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	case <-ctx.Done():
		b.done <- ctx.Err()
		return nil, ctx.Err()
	}
}

// startServe starts the Serve component of a new server with svc registered
// and returns a client connection, the component's cancel and its result.
type served struct {
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	result chan error
}

func startServe(t *testing.T, register func(*grpc.Server), opts ...lifecycle.DrainOption) *served {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpckit.ServerOptions(slog.New(slog.DiscardHandler))...)
	register(srv)
	ctx, cancel := context.WithCancel(t.Context())
	s := &served{cancel: cancel, result: make(chan error, 1)}
	component := grpckit.Serve(srv, lis, opts...)
	go func() { s.result <- component(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-s.result // no goroutine outlives the test, whatever it asserted
	})
	s.conn = dialBufconn(t, lis)
	return s
}

// wait returns the component's result.
func (s *served) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.result:
		s.result <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Serve component did not return within 30s")
		return nil
	}
}

// An RPC in flight when shutdown starts completes OK after being released,
// and the component returns nil.
func TestServeGracefulStop(t *testing.T) {
	t.Parallel()
	b := newBlockingHealth()
	var before []string
	s := startServe(t, func(srv *grpc.Server) { healthpb.RegisterHealthServer(srv, b) },
		lifecycle.BeforeShutdown(func() { before = append(before, "first") }),
		lifecycle.BeforeShutdown(func() { before = append(before, "second") }),
		lifecycle.DrainDelay(time.Millisecond))
	callErr := make(chan error, 1)
	go func() {
		_, err := healthpb.NewHealthClient(s.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
		callErr <- err
	}()
	<-b.entered
	s.cancel()
	// GracefulStop sends GOAWAY: the connection leaves READY. Only then
	// release the handler, so it finishes during the graceful stop.
	s.conn.WaitForStateChange(t.Context(), connectivity.Ready)
	close(b.release)
	if err := <-callErr; err != nil {
		t.Errorf("in-flight Check() = %v; want nil", err)
	}
	if err := s.wait(t); err != nil {
		t.Errorf("Serve component = %v; want nil after a graceful stop", err)
	}
	if strings.Join(before, ",") != "first,second" {
		t.Errorf("BeforeShutdown calls = %v; want [first second]", before)
	}
}

// After the timeout the connections are closed: the in-flight RPC fails,
// its handler's context is cancelled, and the component reports the
// forced stop.
func TestServeForcedStop(t *testing.T) {
	t.Parallel()
	b := newBlockingHealth()
	s := startServe(t, func(srv *grpc.Server) { healthpb.RegisterHealthServer(srv, b) },
		lifecycle.ShutdownTimeout(10*time.Millisecond))
	callErr := make(chan error, 1)
	go func() {
		_, err := healthpb.NewHealthClient(s.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
		callErr <- err
	}()
	<-b.entered
	s.cancel()
	err := s.wait(t)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Serve component = %v; want an error wrapping context.DeadlineExceeded", err)
	}
	if code := status.Code(<-callErr); code != codes.Unavailable && code != codes.Canceled {
		t.Errorf("in-flight Check() after a forced stop = %v; want Unavailable or Canceled", code)
	}
	if err := <-b.done; !errors.Is(err, context.Canceled) {
		t.Errorf("handler context after a forced stop = %v; want context.Canceled", err)
	}
}

// A Watch stream of the chassis health service does not hold the graceful
// stop until its timeout: Health.Shutdown ends it.
func TestServeWithHealthWatch(t *testing.T) {
	t.Parallel()
	checker := health.New()
	var hs *grpckit.Health
	var shutdowns atomic.Int32
	s := startServe(t, func(srv *grpc.Server) { hs = grpckit.RegisterHealth(srv, checker) },
		lifecycle.BeforeShutdown(func() { shutdowns.Add(1); hs.Shutdown() }),
		lifecycle.ShutdownTimeout(time.Minute))
	if err := hs.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	stream, err := healthpb.NewHealthClient(s.conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.GetStatus() != serving {
		t.Fatalf("Watch Recv() = %v, %v; want SERVING", resp, err)
	}
	s.cancel()
	if resp, err := stream.Recv(); err != nil || resp.GetStatus() != notServing {
		t.Fatalf("Watch Recv() during shutdown = %v, %v; want NOT_SERVING", resp, err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("Watch end = %v; want Unavailable", err)
	}
	if err := s.wait(t); err != nil {
		t.Errorf("Serve component = %v; want nil: the Watch must not hold the graceful stop", err)
	}
	if n := shutdowns.Load(); n != 1 {
		t.Errorf("BeforeShutdown called %d times; want 1", n)
	}
}

// With lifecycle.Run, Serve and Health.Run stop together.
func TestServeLifecycle(t *testing.T) {
	t.Parallel()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpckit.ServerOptions(slog.New(slog.DiscardHandler))...)
	hs := grpckit.RegisterHealth(srv, health.New())
	conn := dialBufconn(t, lis)
	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error, 1)
	go func() { result <- lifecycle.Run(ctx, grpckit.Serve(srv, lis), hs.Run) }()
	stream, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Watch Recv() = %v", err)
		}
		if resp.GetStatus() == serving {
			break // Health.Run published its first report
		}
	}
	cancel()
	if err := <-result; err != nil {
		t.Errorf("lifecycle.Run() = %v; want nil", err)
	}
}

// failingListener fails every Accept with a permanent error.
type failingListener struct {
	net.Listener
	closed atomic.Bool
}

var errAccept = errors.New("accept: broken")

func (l *failingListener) Accept() (net.Conn, error) { return nil, errAccept }
func (l *failingListener) Close() error {
	l.closed.Store(true)
	return nil
}

func TestServeEdges(t *testing.T) {
	t.Parallel()
	t.Run("serve error", func(t *testing.T) {
		t.Parallel()
		lis := &failingListener{Listener: bufconn.Listen(1)}
		err := grpckit.Serve(grpc.NewServer(), lis)(t.Context())
		if !errors.Is(err, errAccept) {
			t.Errorf("Serve component on a failing listener = %v; want it to wrap %v", err, errAccept)
		}
	})
	t.Run("server already stopped", func(t *testing.T) {
		t.Parallel()
		srv := grpc.NewServer()
		srv.Stop()
		lis := &failingListener{Listener: bufconn.Listen(1)}
		if err := grpckit.Serve(srv, lis)(t.Context()); err != nil {
			t.Errorf("Serve component on a stopped server = %v; want nil (grpc.ErrServerStopped is not an error)", err)
		}
		if !lis.closed.Load() {
			t.Error("listener not closed")
		}
	})
	t.Run("context already done", func(t *testing.T) {
		t.Parallel()
		srv := grpc.NewServer()
		defer srv.Stop()
		lis := &failingListener{Listener: bufconn.Listen(1)}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := grpckit.Serve(srv, lis)(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Serve component with a done context = %v; want context.Canceled", err)
		}
		if !lis.closed.Load() {
			t.Error("listener not closed")
		}
	})
}

func TestServePanics(t *testing.T) {
	t.Parallel()
	srv := grpc.NewServer()
	defer srv.Stop()
	lis := bufconn.Listen(1)
	defer lis.Close()
	tests := []struct {
		name string
		fn   func()
		want string
	}{
		{"nil server", func() { grpckit.Serve(nil, lis) }, "grpckit.Serve: srv is nil"},
		{"nil listener", func() { grpckit.Serve(srv, nil) }, "grpckit.Serve: lis is nil"},
		{"zero timeout", func() { lifecycle.ShutdownTimeout(0) }, "lifecycle.ShutdownTimeout: d must be > 0"},
		{"negative delay", func() { lifecycle.DrainDelay(-1) }, "lifecycle.DrainDelay: d must be >= 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || !strings.HasPrefix(s, tc.want) {
					t.Errorf("panic = %v; want one starting %q", r, tc.want)
				}
			}()
			tc.fn()
		})
	}
}
