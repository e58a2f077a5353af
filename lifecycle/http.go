package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// DefaultShutdownTimeout is how long [HTTP] waits for in-flight requests
// when [ShutdownTimeout] is not given.
const DefaultShutdownTimeout = 10 * time.Second

// HTTPOption configures the component returned by [HTTP].
type HTTPOption func(*httpConfig)

// httpConfig is what the HTTPOptions set.
type httpConfig struct {
	listener        net.Listener
	before          []func()
	drain           time.Duration
	shutdownTimeout time.Duration
	sleep           func(time.Duration) // test hook; time.Sleep
}

// Listener makes the component serve on l instead of listening on srv.Addr.
// The component owns l from then on and closes it on shutdown. Tests use it
// with a loopback listener on port 0; services use it for socket activation.
// Panics if l is nil.
func Listener(l net.Listener) HTTPOption {
	if l == nil {
		panic("lifecycle.Listener: l is nil; omit the option to listen on srv.Addr")
	}
	return func(c *httpConfig) { c.listener = l }
}

// BeforeShutdown adds fn to the functions called, in the order given, as
// soon as shutdown begins and before the drain delay; the usual one is a
// health checker's SetDraining, so that readiness fails while the server
// still serves. Each fn runs on the component's goroutine and delays the
// rest of the shutdown until it returns. Panics if fn is nil.
func BeforeShutdown(fn func()) HTTPOption {
	if fn == nil {
		panic("lifecycle.BeforeShutdown: fn is nil; pass e.g. checker.SetDraining")
	}
	return func(c *httpConfig) { c.before = append(c.before, fn) }
}

// DrainDelay makes the component keep serving, new connections included,
// for d after the BeforeShutdown functions ran and before it stops
// accepting connections. It gives load balancers time to see the failing
// readiness probe and stop routing to this process; behind Kubernetes, use a
// bit more than the readiness probe's period (5s is common). The default is
// 0: no delay, for services that nothing routes to by readiness. The delay is
// not cut short by anything but process exit. Panics if d is negative.
func DrainDelay(d time.Duration) HTTPOption {
	if d < 0 {
		panic("lifecycle.DrainDelay: negative duration; use 0 for no delay")
	}
	return func(c *httpConfig) { c.drain = d }
}

// ShutdownTimeout bounds the graceful part of the shutdown: how long
// in-flight requests may take to finish once the server stopped accepting
// connections. When it expires, the remaining connections are closed
// (http.Server.Close) and the component returns an error wrapping
// context.DeadlineExceeded. The default is [DefaultShutdownTimeout] (10s).
// It does not include the drain delay. Panics if d is not positive.
func ShutdownTimeout(d time.Duration) HTTPOption {
	if d <= 0 {
		panic("lifecycle.ShutdownTimeout: duration must be positive; omit the option for the 10s default")
	}
	return func(c *httpConfig) { c.shutdownTimeout = d }
}

// withSleep replaces time.Sleep for the drain delay (tests only).
func withSleep(sleep func(time.Duration)) HTTPOption {
	return func(c *httpConfig) { c.sleep = sleep }
}

// HTTP returns a Component that serves srv until its context is cancelled,
// then shuts srv down gracefully:
//
//  1. call the [BeforeShutdown] functions, in order;
//  2. keep serving for the [DrainDelay] (default 0);
//  3. stop accepting connections and wait for in-flight requests to finish
//     (http.Server.Shutdown), for at most the [ShutdownTimeout] (default
//     10s); then close whatever is left (http.Server.Close).
//
// The component listens on srv.Addr (":http" if empty, ":https" with TLS)
// unless [Listener] gives a listener, and serves TLS with srv.ServeTLS(l, "",
// "") when srv.TLSConfig is non-nil, so that config must carry the
// certificates. A listen error (such as the port being in use) is returned at
// once. The component returns nil after a graceful shutdown (including when
// something else called srv.Shutdown: http.ErrServerClosed is not an error),
// an error wrapping context.DeadlineExceeded when the shutdown timeout
// expired, and any other error of srv.Serve. If its context is already done
// when it starts, it returns ctx.Err() without serving (closing the
// [Listener] if one was given).
//
// In-flight requests' contexts are not cancelled during the graceful phase;
// they are when the timeout forces the connections closed. Hijacked
// connections (WebSockets) are not waited for: register their shutdown with
// srv.RegisterOnShutdown. An http.Server cannot be restarted, so the
// component can run only once. Panics if srv is nil.
func HTTP(srv *http.Server, opts ...HTTPOption) Component {
	if srv == nil {
		panic("lifecycle.HTTP: srv is nil; pass the *http.Server to run")
	}
	cfg := httpConfig{shutdownTimeout: DefaultShutdownTimeout, sleep: time.Sleep}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.before = append([]func(){}, cfg.before...)

	return func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			if cfg.listener != nil {
				_ = cfg.listener.Close()
			}
			return err
		}
		l := cfg.listener
		if l == nil {
			addr := srv.Addr
			if addr == "" {
				addr = ":http"
				if srv.TLSConfig != nil {
					addr = ":https"
				}
			}
			var lc net.ListenConfig
			var err error
			if l, err = lc.Listen(ctx, "tcp", addr); err != nil {
				return fmt.Errorf("lifecycle: %w", err)
			}
		}

		served := make(chan error, 1)
		go func() {
			if srv.TLSConfig != nil {
				served <- srv.ServeTLS(l, "", "")
			} else {
				served <- srv.Serve(l)
			}
		}()

		select {
		case err := <-served:
			_ = l.Close() // ServeTLS can fail before Serve took l over
			return serveError(err)
		case <-ctx.Done():
		}

		for _, fn := range cfg.before {
			fn()
		}
		if cfg.drain > 0 {
			cfg.sleep(cfg.drain)
		}

		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
		defer cancel()
		shutErr := srv.Shutdown(sctx)
		if shutErr != nil {
			_ = srv.Close()
		}
		serveErr := serveError(<-served)
		if shutErr != nil {
			return fmt.Errorf("lifecycle: HTTP shutdown did not finish within %v, connections closed: %w", cfg.shutdownTimeout, shutErr)
		}
		return serveErr
	}
}

// serveError maps http.ErrServerClosed to nil and wraps other Serve errors.
func serveError(err error) error {
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("lifecycle: serve: %w", err)
}
