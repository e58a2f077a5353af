package httpkit

import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/chassis-go/chassis/problem"
)

// MuxErrors returns a handler that serves mux and turns the answers mux
// gives on its own — 404 when no pattern matches the path, 405 when the
// path matches but the method does not — into RFC 9457 problem responses
// (application/problem+json, with the request id), instead of net/http's
// text/plain lines. A 405 keeps its Allow header. Mount it inside the
// middleware stack, so these answers get the security headers, the access
// log and the metrics of every other response:
//
//	api := http.NewServeMux()
//	api.HandleFunc("GET /notes/{id}", getNote)
//	srv := httpkit.NewServer(addr, stack(httpkit.MuxErrors(api)))
//
// The ResponseWriter handlers receive keeps Flush, Hijack, ReadFrom and,
// through Unwrap, every http.ResponseController method. Only a 404 or 405
// written while no pattern matched (Request.Pattern is empty) is replaced:
// a handler's own 404 ("no such note") is left alone, and so are the other
// answers mux gives itself, such as the redirect to a path's canonical
// form. Panics if mux is nil.
func MuxErrors(mux *http.ServeMux) http.Handler {
	if mux == nil {
		panic("httpkit.MuxErrors: mux is nil; pass the *http.ServeMux to serve")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// mux sets r.Pattern on this very request when a pattern matches,
		// before it calls the handler, so the writer can tell its own
		// answers from the handler's.
		mux.ServeHTTP(&muxErrorWriter{ResponseWriter: w, r: r}, r)
	})
}

// muxErrorWriter replaces a 404 or 405 written by ServeMux's own handlers
// with a problem response and discards the text body that follows.
type muxErrorWriter struct {
	http.ResponseWriter
	r       *http.Request
	replace bool
}

func (w *muxErrorWriter) WriteHeader(code int) {
	if w.r.Pattern != "" {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	var p *problem.Error
	switch code {
	case http.StatusNotFound:
		p = problem.NotFound("no route matches the request path")
	case http.StatusMethodNotAllowed:
		p = problem.New(http.StatusMethodNotAllowed, "the route does not allow the request method")
	default:
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.replace = true
	problem.Write(w.ResponseWriter, w.r, p)
}

func (w *muxErrorWriter) Write(b []byte) (int, error) {
	if w.replace {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher; see FlushError.
func (w *muxErrorWriter) Flush() { _ = w.FlushError() }

// FlushError flushes the server's writer, reporting an unsupported flush.
func (w *muxErrorWriter) FlushError() error {
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack takes over the connection from the server's writer.
func (w *muxErrorWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// ReadFrom copies src with the server's ReadFrom (sendfile) when it has one.
func (w *muxErrorWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.replace {
		return io.Copy(io.Discard, src)
	}
	return io.Copy(w.ResponseWriter, src)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *muxErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var (
	_ http.Flusher                              = (*muxErrorWriter)(nil)
	_ http.Hijacker                             = (*muxErrorWriter)(nil)
	_ io.ReaderFrom                             = (*muxErrorWriter)(nil)
	_ interface{ Unwrap() http.ResponseWriter } = (*muxErrorWriter)(nil)
)
