package grpckit

import (
	"context"
	"errors"
	"net"
	"sync"

	"google.golang.org/grpc"

	"github.com/chassis-go/chassis/lifecycle"
)

// Serve returns a lifecycle.Component that serves srv on lis until its
// context ends, then stops srv with lifecycle's drain sequence (the one
// lifecycle.HTTP uses, configured by the same options:
// lifecycle.BeforeShutdown, lifecycle.DrainDelay, lifecycle.ShutdownTimeout):
//
//  1. call the BeforeShutdown functions, in order;
//  2. keep serving for the DrainDelay (default 0);
//  3. stop accepting connections and calls (grpc.Server.GracefulStop) and
//     wait for in-flight calls, streams included, to finish, for at most the
//     ShutdownTimeout (default lifecycle.DefaultShutdownTimeout, 10s); then
//     close every connection (grpc.Server.Stop, which cancels the contexts
//     of the calls left), including connections still in their handshake
//     that grpc.Server.Stop would wait for.
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
// Cancellation: the component returns at most DrainDelay + ShutdownTimeout
// + 1s after its context ends, whatever clients do (connections that never
// finish their handshake, clients that never read). Handlers still running
// after the forced stop are not waited for unless srv was built with
// grpc.WaitForHandlers(true); if they hold grpc.Server.Stop past that
// bound, the component returns an error and leaves the goroutine waiting
// for them behind.
//
// Long-lived streams, such as health Watch streams, hold a graceful stop
// until the timeout unless they end: the Watch of [RegisterHealth] ends after
// [Health.Shutdown], so pass lifecycle.BeforeShutdown(h.Shutdown) or run
// [Health.Run] in the same lifecycle.Run. A grpc.Server cannot be
// restarted, so the component can run only once. A nil option is ignored.
// Panics if srv or lis is nil.
func Serve(srv *grpc.Server, lis net.Listener, opts ...lifecycle.DrainOption) lifecycle.Component {
	if srv == nil {
		panic("grpckit.Serve: srv is nil; build it with grpc.NewServer(grpckit.ServerOptions(logger)...)")
	}
	if lis == nil {
		panic("grpckit.Serve: lis is nil; pass a listener such as net.Listen(\"tcp\", \":9090\")")
	}
	return lifecycle.Serve(&grpcServer{srv: srv, lis: &trackingListener{Listener: lis, conns: make(map[net.Conn]struct{})}}, opts...)
}

// grpcServer adapts a *grpc.Server to lifecycle.Server.
type grpcServer struct {
	srv *grpc.Server
	lis *trackingListener
}

func (g *grpcServer) Serve() error {
	err := g.srv.Serve(g.lis)
	if err == nil || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	g.srv.Stop()
	return err
}

// Shutdown runs GracefulStop until it finishes or ctx ends. GracefulStop
// keeps running after an early return; Close then turns it into a Stop.
func (g *grpcServer) Shutdown(ctx context.Context) error {
	stopped := make(chan struct{})
	go func() {
		g.srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the server and closes every connection it accepted, so that
// one still in its handshake (which grpc.Server.Stop waits for, up to the
// ConnectionTimeout) ends at once. It does not wait for Stop: lifecycle
// bounds the wait for Serve to return.
func (g *grpcServer) Close() error {
	go g.srv.Stop()
	err := g.lis.Close()
	g.lis.closeConns()
	return err
}

// trackingListener keeps the connections it accepted until they close, so
// that a forced stop can close those grpc-go still holds in their
// handshake.
type trackingListener struct {
	net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	l.conns[tc] = struct{}{}
	return tc, nil
}

func (l *trackingListener) closeConns() {
	l.mu.Lock()
	l.closed = true
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// trackedConn removes itself from its listener when closed. It hides the
// underlying connection's other methods (syscall.Conn), which grpc-go uses
// only for channelz socket options.
type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
