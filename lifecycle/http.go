package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
)

// HTTPOption configures the component returned by [HTTP]: [Listener], and
// every [DrainOption] ([BeforeShutdown], [DrainDelay], [ShutdownTimeout]).
// A nil HTTPOption is ignored.
type HTTPOption interface {
	applyHTTP(*httpConfig)
}

// httpConfig is what the HTTPOptions set.
type httpConfig struct {
	listener net.Listener
	drain    drainConfig
}

type listenerOption struct{ l net.Listener }

func (o listenerOption) applyHTTP(c *httpConfig) {
	if o.l != nil {
		c.listener = o.l
	}
}

// Listener makes the component serve on l instead of listening on srv.Addr.
// The component owns l from then on and closes it on shutdown. Tests use it
// with a loopback listener on port 0; services use it for socket activation.
// A nil l means the default: listen on srv.Addr.
func Listener(l net.Listener) HTTPOption { return listenerOption{l} }

// HTTP returns a Component that serves srv until its context is cancelled,
// then shuts srv down gracefully with the drain sequence of [Serve]:
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
	cfg := httpConfig{drain: newDrainConfig(nil)}
	for _, o := range opts {
		if o != nil {
			o.applyHTTP(&cfg)
		}
	}
	cfg.drain.before = append([]func(){}, cfg.drain.before...)
	return func(ctx context.Context) error {
		// The listener is opened here, not in HTTP, so that building the
		// component has no side effect.
		hs := &httpServer{srv: srv, l: cfg.listener}
		if ctx.Err() == nil && hs.l == nil {
			addr := srv.Addr
			if addr == "" {
				addr = ":http"
				if srv.TLSConfig != nil {
					addr = ":https"
				}
			}
			var lc net.ListenConfig
			l, err := lc.Listen(ctx, "tcp", addr)
			if err != nil {
				return fmt.Errorf("lifecycle: %w", err)
			}
			hs.l = l
		}
		return cfg.drain.component(hs)(ctx)
	}
}

// httpServer adapts an *http.Server on a listener to [Server].
type httpServer struct {
	srv       *http.Server
	l         net.Listener
	closeOnce sync.Once
}

func (h *httpServer) Serve() error {
	var err error
	if h.srv.TLSConfig != nil {
		err = h.srv.ServeTLS(h.l, "", "")
	} else {
		err = h.srv.Serve(h.l)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	h.closeListener() // ServeTLS can fail before Serve took l over
	return err
}

func (h *httpServer) Shutdown(ctx context.Context) error { return h.srv.Shutdown(ctx) }

func (h *httpServer) Close() error {
	h.closeListener() // the server may never have taken l over
	return h.srv.Close()
}

func (h *httpServer) closeListener() {
	h.closeOnce.Do(func() {
		if h.l != nil {
			_ = h.l.Close()
		}
	})
}
