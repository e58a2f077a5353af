package lifecycle

import (
	"context"
	"fmt"
	"time"
)

// DefaultShutdownTimeout is how long the drain sequence waits for in-flight
// work when [ShutdownTimeout] is not given.
const DefaultShutdownTimeout = 10 * time.Second

// closeWait bounds how long the drain sequence waits for Serve to return
// after Close: a server whose Close cannot make Serve return (a handler
// that ignores its context and is waited for) must not hold the process.
const closeWait = time.Second

// Server is a server that [Serve] runs and drains. *http.Server fits it
// through [HTTP]; grpckit.Serve adapts a *grpc.Server.
type Server interface {
	// Serve serves until Shutdown or Close is called, then returns nil (or
	// an error of its own, which Serve reports).
	Serve() error
	// Shutdown stops accepting connections and waits for in-flight work to
	// finish, or for ctx to end: it then returns an error wrapping ctx's.
	Shutdown(ctx context.Context) error
	// Close ends every connection at once and must not block for long. It
	// is called after a failed Shutdown, and also, without Serve or
	// Shutdown, when the component's context is done before it started,
	// to release what the server holds (a listener).
	Close() error
}

// DrainOption configures the drain sequence shared by [Serve], [HTTP] and
// grpckit.Serve. It is an [HTTPOption] too. A nil DrainOption is ignored.
type DrainOption func(*drainConfig)

func (o DrainOption) applyHTTP(c *httpConfig) {
	if o != nil {
		o(&c.drain)
	}
}

// drainConfig is what the DrainOptions set.
type drainConfig struct {
	before  []func()
	delay   time.Duration
	timeout time.Duration

	// Test hooks; nil means time.Sleep and time.After.
	sleep func(time.Duration)
	after func(time.Duration) <-chan time.Time
}

func newDrainConfig(opts []DrainOption) drainConfig {
	c := drainConfig{timeout: DefaultShutdownTimeout}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	c.before = append([]func(){}, c.before...) // options may share a backing array
	return c
}

// BeforeShutdown adds fn to the functions called, in the order given, as
// soon as shutdown begins and before the drain delay; the usual one is a
// health checker's SetDraining (or a grpckit Health's Shutdown), so that
// readiness fails while the server still serves. Each fn runs on the
// component's goroutine and delays the rest of the shutdown until it
// returns. A nil fn is ignored.
func BeforeShutdown(fn func()) DrainOption {
	return func(c *drainConfig) {
		if fn != nil {
			c.before = append(c.before, fn)
		}
	}
}

// DrainDelay keeps the server serving, new connections included, for d
// after the BeforeShutdown functions ran and before it stops accepting
// connections. It gives load balancers time to see the failing readiness
// probe and stop routing to this process; behind Kubernetes, use a bit more
// than the readiness probe's period (5s is common). The default is 0: no
// delay, for services that nothing routes to by readiness. The delay is not
// cut short by anything but process exit. Panics if d is negative.
func DrainDelay(d time.Duration) DrainOption {
	if d < 0 {
		panic(fmt.Sprintf("lifecycle.DrainDelay: d must be >= 0, got %v; use 0 for no delay", d))
	}
	return func(c *drainConfig) { c.delay = d }
}

// ShutdownTimeout bounds the graceful part of the shutdown: how long
// in-flight work may take to finish once the server stopped accepting
// connections. When it expires, the remaining connections are closed and
// the component returns an error wrapping context.DeadlineExceeded. The
// default is [DefaultShutdownTimeout] (10s). It does not include the drain
// delay. Panics if d is not positive.
func ShutdownTimeout(d time.Duration) DrainOption {
	if d <= 0 {
		panic(fmt.Sprintf("lifecycle.ShutdownTimeout: d must be > 0, got %v; omit the option for the 10s default", d))
	}
	return func(c *drainConfig) { c.timeout = d }
}

// Drain combines opts into one DrainOption, applied in order, so that one
// value configures the drain of several servers alike:
//
//	drain := lifecycle.Drain(lifecycle.DrainDelay(5*time.Second), lifecycle.ShutdownTimeout(10*time.Second))
//	lifecycle.Run(ctx, lifecycle.HTTP(httpSrv, drain), grpckit.Serve(grpcSrv, lis, drain))
//
// Nil options are ignored.
func Drain(opts ...DrainOption) DrainOption {
	opts = append([]DrainOption(nil), opts...)
	return func(c *drainConfig) {
		for _, o := range opts {
			if o != nil {
				o(c)
			}
		}
	}
}

// withClock replaces time.Sleep (the drain delay) and time.After (the wait
// after Close) in tests.
func withClock(sleep func(time.Duration), after func(time.Duration) <-chan time.Time) DrainOption {
	return func(c *drainConfig) { c.sleep, c.after = sleep, after }
}

// Serve returns a Component that serves srv until its context is
// cancelled, then drains it; this is the one drain sequence of chassis,
// which [HTTP] and grpckit.Serve use:
//
//  1. call the [BeforeShutdown] functions, in order;
//  2. keep serving for the [DrainDelay] (default 0);
//  3. stop accepting connections and wait for in-flight work to finish
//     (srv.Shutdown), for at most the [ShutdownTimeout] (default 10s); then
//     close whatever is left (srv.Close) and wait at most one more second
//     for srv.Serve to return.
//
// The component returns nil after a graceful shutdown, an error wrapping
// context.DeadlineExceeded when the shutdown timeout expired, and the error
// of srv.Serve if serving fails first (srv is then closed). If srv.Serve
// returns nil before shutdown began (someone else stopped srv), the
// component returns nil, which [Run] treats as a failure. If its context is
// already done when it starts, it calls srv.Close and returns ctx.Err()
// without serving.
//
// Cancellation: the component returns at most DrainDelay + ShutdownTimeout
// + 1s after its context ends, whatever clients and handlers do. If
// srv.Serve has not returned by then, the component returns an error and
// the goroutine running srv.Serve is left behind. A Server cannot be
// restarted, so the component can run only once. Panics if srv is nil.
func Serve(srv Server, opts ...DrainOption) Component {
	if srv == nil {
		panic("lifecycle.Serve: srv is nil; pass the server to run")
	}
	return newDrainConfig(opts).component(srv)
}

// component is the drain sequence.
func (cfg drainConfig) component(srv Server) Component {
	sleep := cfg.sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	after := cfg.after
	if after == nil {
		after = time.After
	}
	return func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			_ = srv.Close()
			return err
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve() }()

		select {
		case err := <-served:
			if err != nil {
				_ = srv.Close()
				return fmt.Errorf("lifecycle: serve: %w", err)
			}
			return nil
		case <-ctx.Done():
		}

		for _, fn := range cfg.before {
			fn()
		}
		if cfg.delay > 0 {
			sleep(cfg.delay)
		}

		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.timeout)
		defer cancel()
		shutErr := srv.Shutdown(sctx)
		if shutErr != nil {
			_ = srv.Close()
			select {
			case <-served:
			case <-after(closeWait):
				return fmt.Errorf("lifecycle: shutdown did not finish within %v, and the server did not stop within %v of closing its connections: %w",
					cfg.timeout, closeWait, shutErr)
			}
			return fmt.Errorf("lifecycle: shutdown did not finish within %v, connections closed: %w", cfg.timeout, shutErr)
		}
		if err := <-served; err != nil {
			return fmt.Errorf("lifecycle: serve: %w", err)
		}
		return nil
	}
}
