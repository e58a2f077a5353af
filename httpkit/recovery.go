package httpkit

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/chassis-go/chassis/internal/panicval"
	"github.com/chassis-go/chassis/internal/reqmeta"
	"github.com/chassis-go/chassis/internal/respwrite"
	"github.com/chassis-go/chassis/problem"
)

// Recovery returns middleware that turns a panic in next into something the
// client can handle, and logs it at level Error with message "http handler
// panic", the panic value (as text bounded to about 1 KiB; a value is never
// formatted recursively, so a value that contains itself is safe), method,
// path, route, request id and the stack (debug.Stack) of the panicking
// goroutine.
//
// What the client sees depends on how far the response got:
//   - nothing written yet: a 500 problem+json response (see [problem.Write]),
//     carrying the request id; headers the handler had set stay, except
//     Content-Type, Content-Length and Content-Encoding;
//   - the response started (a status or body byte was sent, whatever
//     wrappers sit in between): the connection is aborted by panicking
//     with [http.ErrAbortHandler] after logging, so the client sees a
//     failed transfer rather than a 500 glued to a partial body; a body
//     delimited by the end of the connection (HTTP/1.0 without
//     Content-Length), which an orderly close would complete, is ended
//     with a TCP reset instead, so that it cannot look complete;
//   - the connection was hijacked: nothing is written, the panic is
//     logged and swallowed; the hijacker owns the connection.
//
// A panic with http.ErrAbortHandler (or an error wrapping it) is the
// handler's own request to abort: it continues unchanged and is not logged.
// Where to mount it, and why, is in the package documentation (Middleware
// order): innermost, next to the mux. It wraps the ResponseWriter; Flush,
// Hijack, ReadFrom and, through Unwrap, every http.ResponseController method
// keep working. The record is logged with the request context; trace_id and
// span_id come from a correlating handler such as logz's. Panics if logger
// is nil: the logger is a required input, not an option.
func Recovery(logger *slog.Logger) func(http.Handler) http.Handler {
	if logger == nil {
		panic("httpkit.Recovery: logger is nil; pass slog.Default() or a logz logger")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The shared info lets the inner middleware report the route
			// and request id back here, even when they never return.
			r, _ = reqmeta.Ensure(r)
			// Mounted right inside Logging, w already is a
			// respwrite.Writer that every write of next passes through:
			// it knows as much as a new one would. Innermost (the
			// recommended order) behind a guard, it costs one small
			// wrapper.
			rw, ok := w.(*respwrite.Writer)
			if !ok {
				rw = respwrite.New(w)
			}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				stack := debug.Stack()
				attrs := []slog.Attr{
					slog.String("panic", panicval.String(v)),
					slog.String("method", r.Method),
					slog.String("path", r.URL.EscapedPath()),
				}
				if rt := reqmeta.Route(reqmeta.Pattern(r)); rt != "" {
					attrs = append(attrs, slog.String("route", rt))
				}
				id := RequestIDFrom(r.Context())
				if id == "" {
					id = w.Header().Get(problem.RequestIDHeader) // set by an inner RequestID
				}
				if problem.ValidRequestID(id) {
					attrs = append(attrs, slog.String("request_id", id))
				}
				attrs = append(attrs, slog.String("stack", string(stack)))
				logger.LogAttrs(r.Context(), slog.LevelError, "http handler panic", attrs...)

				switch {
				case rw.Hijacked():
				case rw.Started():
					respwrite.Abort(rw, r)
				default:
					problem.Write(rw, r, problem.Internal("internal error"))
				}
			}()
			defer reqmeta.Publish(r)
			next.ServeHTTP(rw, r)
		})
	}
}
