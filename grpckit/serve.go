package grpckit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"

	"github.com/chassis-go/chassis/lifecycle"
)

// DefaultShutdownTimeout is how long [Serve] waits for in-flight calls
// after its context ends, unless ShutdownTimeout says otherwise.
const DefaultShutdownTimeout = 10 * time.Second

// ServeOption configures [Serve].
type ServeOption func(*serveConfig)

type serveConfig struct {
	timeout time.Duration
	delay   time.Duration
	before  []func()
}

// ShutdownTimeout bounds the graceful stop: after d, the connections still
// open are closed (grpc.Server.Stop). The default is DefaultShutdownTimeout
// (10s). Panics if d is not positive.
func ShutdownTimeout(d time.Duration) ServeOption {
	if d <= 0 {
		panic(fmt.Sprintf("grpckit.ShutdownTimeout: d must be > 0, got %v; omit the option for the default of 10s", d))
	}
	return func(c *serveConfig) { c.timeout = d }
}

// DrainDelay keeps serving for d after the context ends and the BeforeShutdown
// functions have run, before the graceful stop begins, so that load balancers
// that poll the health service see NOT_SERVING and stop routing new calls
// here. The default is 0. Panics if d is negative.
func DrainDelay(d time.Duration) ServeOption {
	if d < 0 {
		panic(fmt.Sprintf("grpckit.DrainDelay: d must be >= 0, got %v", d))
	}
	return func(c *serveConfig) { c.delay = d }
}

// BeforeShutdown adds fn to the functions Serve calls, in order and on its
// own goroutine, when its context ends and before the drain delay, such as
// a [Health.Shutdown] (so that load balancers stop routing here and Watch
// streams end) or a health.Checker's SetDraining. fn must not block for
// long. Panics if fn is nil.
func BeforeShutdown(fn func()) ServeOption {
	if fn == nil {
		panic("grpckit.BeforeShutdown: fn is nil")
	}
	return func(c *serveConfig) { c.before = append(c.before, fn) }
}

// Serve returns a lifecycle.Component that serves srv on lis until its
// context ends, then stops srv gracefully:
//
//  1. call the BeforeShutdown functions, in order;
//  2. keep serving for the DrainDelay (default 0);
//  3. stop accepting connections and calls (grpc.Server.GracefulStop) and
//     wait for in-flight calls, streams included, to finish, for at most the
//     ShutdownTimeout (default 10s); then close every connection
//     (grpc.Server.Stop), which cancels the contexts of the calls left.
//
// The component returns nil after a graceful stop, an error wrapping
// context.DeadlineExceeded when the timeout forced the connections closed,
// and the error of grpc.Server.Serve if serving fails first (srv is then
// stopped, so no connection outlives the component). If srv was stopped by
// someone else, it returns nil (grpc.ErrServerStopped is not an error); the
// lifecycle package treats that early return as a failure. If its context is
// already done when it starts, it closes lis and returns ctx.Err() without
// serving. lis is closed when the component returns.
//
// Long-lived streams, such as health Watch streams, hold a graceful stop
// until the timeout unless they end: the Watch of [RegisterHealth] ends after
// [Health.Shutdown], so pass BeforeShutdown(h.Shutdown) or run [Health.Run]
// in the same lifecycle.Run. The component waits for its goroutines before
// returning; handlers still running after a forced stop are not waited for
// unless srv was built with grpc.WaitForHandlers(true). A grpc.Server cannot
// be restarted, so the component can run only once. Panics if srv or lis is
// nil.
func Serve(srv *grpc.Server, lis net.Listener, opts ...ServeOption) lifecycle.Component {
	if srv == nil {
		panic("grpckit.Serve: srv is nil; build it with grpc.NewServer(grpckit.ServerOptions(logger)...)")
	}
	if lis == nil {
		panic("grpckit.Serve: lis is nil; pass a listener such as net.Listen(\"tcp\", \":9090\")")
	}
	cfg := serveConfig{timeout: DefaultShutdownTimeout}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	return func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			_ = lis.Close()
			return err
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(lis) }()
		select {
		case err := <-served:
			if err == nil || errors.Is(err, grpc.ErrServerStopped) {
				return nil
			}
			srv.Stop()
			return fmt.Errorf("grpckit: serve: %w", err)
		case <-ctx.Done():
		}
		for _, fn := range cfg.before {
			fn()
		}
		if cfg.delay > 0 {
			t := time.NewTimer(cfg.delay)
			<-t.C
		}
		stopped := make(chan struct{})
		go func() {
			srv.GracefulStop()
			close(stopped)
		}()
		t := time.NewTimer(cfg.timeout)
		defer t.Stop()
		var forced error
		select {
		case <-stopped:
		case <-t.C:
			srv.Stop()
			<-stopped
			forced = fmt.Errorf("grpckit: graceful stop did not finish within %v; connections closed: %w", cfg.timeout, context.DeadlineExceeded)
		}
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) && forced == nil {
			return fmt.Errorf("grpckit: serve: %w", err)
		}
		return forced
	}
}
