package httpkit

import (
	"log/slog"
	"net/http"
	"time"
)

// Defaults of [NewServer].
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10 // 64 KiB
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
//
// Every option's value is stored as given, with net/http's meaning (zero or
// negative timeouts mean none; see http.Server). Fields without an option
// (TLSConfig, BaseContext, ConnContext ...) can be set on the result, which
// is an ordinary *http.Server: run it with lifecycle.HTTP or ListenAndServe.
// Panics if handler or an option is nil.
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
	}
	for _, o := range opts {
		if o == nil {
			panic("httpkit.NewServer: nil option; remove it")
		}
		o(s)
	}
	return s
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
// log package's standard logger. Panics if logger is nil.
func WithErrorLog(logger *slog.Logger) ServerOption {
	if logger == nil {
		panic("httpkit.WithErrorLog: logger is nil; pass slog.Default() or a logz logger")
	}
	return func(s *http.Server) { s.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn) }
}
