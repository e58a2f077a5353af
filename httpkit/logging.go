package httpkit

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/chassis-go/chassis/internal/logthrottle"
	"github.com/chassis-go/chassis/internal/reqmeta"
	"github.com/chassis-go/chassis/internal/respwrite"
)

// Logging returns middleware that writes one access-log line per request,
// with message "http request", after next returns:
//
//	method     the request method
//	route      the path of the ServeMux pattern that matched ("/users/{id}"), if any
//	path       the escaped URL path as received, before any handler ran
//	client     the direct peer's address (Request.RemoteAddr without the port): the
//	           proxy's, behind one; the rate limit's key function decides whom to trust
//	status     the status sent, 200 for a bare Write; left out if the connection was hijacked
//	bytes      body bytes written
//	duration   time from the call to Logging until next returned
//	request_id the id from [RequestID], if any
//	suppressed on a 429 line, how many 429 lines were dropped since the last one
//	panic      true if next panicked (status is then 500 unless the response had started)
//	hijacked   true if the handler hijacked the connection
//
// The query string is never logged: it often carries tokens and personal
// data. Headers and bodies are not logged either.
//
// Responses of 500 and above, and panics, are logged at level Error; all
// others at Info, 4xx included: client mistakes are not the service's, and a
// scanner's flood of 404s must not look like an incident. 429 answers (rate
// limit denials) are logged at Info too, but at most one line per second per
// Logging middleware, carrying the count of the lines dropped since, so a
// client hammering a limit cannot flood the log while Info stays on. The
// line is built only if logger is enabled at that level.
//
// The line is written with the request's context, and trace correlation is
// the handler's job: logz's handler (logz.New, or logz.NewHandler around any
// handler) adds trace_id and span_id from that context, however it is
// wrapped. Mount Logging inside [Tracing] so the request context holds the
// server span. The route is found even when
// the mux sits behind other middleware that replace the request, provided
// one of this package's middleware sits between them and the mux.
//
// Logging wraps the ResponseWriter to observe the status; Flush, Hijack,
// ReadFrom and, through Unwrap, every http.ResponseController method keep
// working. A panic from next is logged and then continues unchanged (it is
// not recovered). Panics if logger is nil.
func Logging(logger *slog.Logger) func(http.Handler) http.Handler {
	if logger == nil {
		panic("httpkit.Logging: logger is nil; pass slog.Default() or a logz logger")
	}
	var denials logthrottle.Throttle
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			path := r.URL.EscapedPath()
			ctx := r.Context()
			r, info := reqmeta.Ensure(r)
			rw := respwrite.New(w)
			completed := false
			defer func() {
				info.Publish(r.Pattern) // for the middleware further out
				pattern := info.Pattern(r)
				level := slog.LevelInfo
				status := rw.Status()
				switch {
				case !completed:
					level = slog.LevelError
					if !rw.Started() {
						status = http.StatusInternalServerError // what Recovery sends
					}
				case status == 0:
					status = http.StatusOK // net/http's implicit 200
				case status >= 500:
					level = slog.LevelError
				}
				if !logger.Enabled(ctx, level) {
					return
				}
				var suppressed int64
				if status == http.StatusTooManyRequests {
					var ok bool
					if suppressed, ok = denials.Allow(time.Now()); !ok {
						return
					}
				}
				attrs := make([]slog.Attr, 0, 12)
				attrs = append(attrs, slog.String("method", r.Method))
				if rt := reqmeta.Route(pattern); rt != "" {
					attrs = append(attrs, slog.String("route", rt))
				}
				attrs = append(attrs, slog.String("path", path), slog.String("client", peerHost(r.RemoteAddr)))
				if !rw.Hijacked() {
					attrs = append(attrs, slog.Int("status", status))
				}
				attrs = append(attrs,
					slog.Int64("bytes", rw.Bytes()),
					slog.Duration("duration", time.Since(start)))
				if id := info.RequestID(); id != "" {
					attrs = append(attrs, slog.String("request_id", id))
				}
				if suppressed > 0 {
					attrs = append(attrs, slog.Int64("suppressed", suppressed))
				}
				if !completed {
					attrs = append(attrs, slog.Bool("panic", true))
				}
				if rw.Hijacked() {
					attrs = append(attrs, slog.Bool("hijacked", true))
				}
				logger.LogAttrs(ctx, level, "http request", attrs...)
			}()
			next.ServeHTTP(rw, r)
			completed = true
		})
	}
}

// peerHost returns the host part of a RemoteAddr ("ip:port" or "[ip]:port"),
// or addr itself when it has no port.
func peerHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
