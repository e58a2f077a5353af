package httpkit

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Defaults of [NewServer].
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10 // 64 KiB
	// DefaultMaxConns is the most connections a server from NewServer keeps
	// open at once: half of a common 20,000 file-descriptor limit, so that
	// a flood of idle or slow connections cannot take the descriptors the
	// process needs for its own outbound calls and files.
	DefaultMaxConns = 10_000
)

// ServerOption configures the *http.Server built by [NewServer]. It is a
// plain function of the server, so a one-off setting needs no new option:
//
//	httpkit.ServerOption(func(s *http.Server) { s.BaseContext = base })
type ServerOption func(*http.Server)

// NewServer returns an *http.Server for addr and handler with defaults safe
// for a server exposed to untrusted clients, where the zero http.Server has
// no timeouts at all:
//
//   - ReadHeaderTimeout 10s: a client that trickles its request headers
//     (slowloris) is disconnected.
//   - ReadTimeout 30s, counted from the start of the request to the end of
//     its body: a client that trickles a body cannot hold a connection and
//     a goroutine forever. It also cuts off legitimately slow uploads; a
//     handler that accepts large bodies extends its own deadline with
//     http.NewResponseController(w).SetReadDeadline, or the server raises
//     the default with [WithReadTimeout]. Hijacked connections (WebSockets)
//     have their deadlines cleared by net/http.
//   - WriteTimeout 0 (none): a server-wide write deadline would kill
//     streaming responses and server-sent events. Bound handler time with
//     a timeout middleware (guard.Timeout) and per-response write time with
//     ResponseController.SetWriteDeadline.
//   - IdleTimeout 120s for keep-alive connections.
//   - MaxHeaderBytes 64 KiB instead of net/http's 1 MiB: room for large
//     cookies and tokens, but not for a memory-exhaustion attempt.
//   - At most DefaultMaxConns (10,000) open connections (see
//     [WithMaxConns]): a connection accepted beyond the cap is closed at
//     once, before a byte of it is read, while the connections already
//     open are served as usual. The cap is enforced through
//     http.Server.ConnState; setting ConnState on the result replaces it.
//
// Every option's value is stored as given, with net/http's meaning (zero or
// negative timeouts mean none; see http.Server). Fields without an option
// (TLSConfig, BaseContext, ConnContext ...) can be set on the result, which
// is an ordinary *http.Server: run it with lifecycle.HTTP or ListenAndServe.
// A nil option is ignored. Panics if handler is nil.
func NewServer(addr string, handler http.Handler, opts ...ServerOption) *http.Server {
	if handler == nil {
		panic("httpkit.NewServer: handler is nil; pass a mux or handler")
	}
	s := &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       DefaultReadTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ConnState:         connCap(DefaultMaxConns),
	}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	return s
}

// WithMaxConns sets the most connections the server keeps open at once
// (counting idle keep-alive connections, not counting hijacked ones): a
// connection accepted beyond n is closed at once, unread, and the client
// sees its connection reset or closed; connections already open are not
// affected. Default DefaultMaxConns. Panics if n is less than 1; pass
// math.MaxInt for no cap.
func WithMaxConns(n int) ServerOption {
	if n < 1 {
		panic(fmt.Sprintf("httpkit.WithMaxConns: n must be at least 1, got %d; pass math.MaxInt for no cap", n))
	}
	return func(s *http.Server) { s.ConnState = connCap(n) }
}

// connCap returns a ConnState hook that closes every new connection beyond
// max open ones. net/http calls the hook for StateNew on its accept loop,
// before serving the connection, and for StateClosed when the connection's
// serving goroutine ends, including for a connection closed here, so the
// count stays exact.
func connCap(max int) func(net.Conn, http.ConnState) {
	var open atomic.Int64
	return func(c net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			if open.Add(1) > int64(max) {
				_ = c.Close()
			}
		case http.StateHijacked, http.StateClosed:
			open.Add(-1)
		}
	}
}

// WithReadHeaderTimeout sets http.Server.ReadHeaderTimeout, the time allowed
// to read a request's headers. Default 10s.
func WithReadHeaderTimeout(d time.Duration) ServerOption {
	return func(s *http.Server) { s.ReadHeaderTimeout = d }
}

// WithReadTimeout sets http.Server.ReadTimeout, the time allowed to read a
// whole request, body included. Default 30s; see [NewServer] about uploads.
func WithReadTimeout(d time.Duration) ServerOption {
	return func(s *http.Server) { s.ReadTimeout = d }
}

// WithWriteTimeout sets http.Server.WriteTimeout, the time from the end of
// the request headers to the end of the response. Default 0 (none): a
// non-zero value cuts off streaming responses.
func WithWriteTimeout(d time.Duration) ServerOption {
	return func(s *http.Server) { s.WriteTimeout = d }
}

// WithIdleTimeout sets http.Server.IdleTimeout, how long a keep-alive
// connection may wait for its next request. Default 120s.
func WithIdleTimeout(d time.Duration) ServerOption {
	return func(s *http.Server) { s.IdleTimeout = d }
}

// WithMaxHeaderBytes sets http.Server.MaxHeaderBytes, the largest request
// line plus headers accepted; larger requests get 431. Default 64 KiB.
func WithMaxHeaderBytes(n int) ServerOption {
	return func(s *http.Server) { s.MaxHeaderBytes = n }
}

// WithErrorLog routes the server's own error log (TLS handshake failures,
// accept errors, panics no middleware recovered, misuse such as a
// superfluous WriteHeader) to logger at level Warn: most of these lines are
// caused by clients, not by the service. Without it net/http writes to the
// log package's standard logger, as it does when logger is nil.
func WithErrorLog(logger *slog.Logger) ServerOption {
	if logger == nil {
		return func(s *http.Server) { s.ErrorLog = nil }
	}
	return func(s *http.Server) { s.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn) }
}
