// Package respwrite provides the http.ResponseWriter wrapper that chassis's
// middleware share to observe a response (status, size, whether it has
// started) without hiding the optional interfaces of the writer it wraps.
package respwrite

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// Writer wraps an http.ResponseWriter and records the status, the number of
// body bytes and whether the response has started. It forwards Flush,
// Hijack, ReadFrom and, through Unwrap, every other http.ResponseController
// method to the wrapped writer, reporting an error (rather than pretending)
// when the wrapped writer lacks one.
//
// A Writer is used by one handler goroutine at a time, like any
// ResponseWriter.
type Writer struct {
	w        http.ResponseWriter
	status   int
	bytes    int64
	started  bool
	hijacked bool
}

// New returns a Writer that wraps w.
func New(w http.ResponseWriter) *Writer { return &Writer{w: w} }

var (
	_ http.Flusher                              = (*Writer)(nil)
	_ http.Hijacker                             = (*Writer)(nil)
	_ io.ReaderFrom                             = (*Writer)(nil)
	_ interface{ Unwrap() http.ResponseWriter } = (*Writer)(nil)
)

// Header returns the wrapped writer's header map.
func (w *Writer) Header() http.Header { return w.w.Header() }

// WriteHeader records code and forwards it. Informational 1xx statuses other
// than 101 are forwarded without being recorded, since the real status is
// still to come.
func (w *Writer) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.w.WriteHeader(code)
		return
	}
	if !w.started {
		w.status = code
		w.started = true
	}
	w.w.WriteHeader(code)
}

// Write forwards p, recording the implicit 200 of a first Write.
func (w *Writer) Write(p []byte) (int, error) {
	w.start()
	n, err := w.w.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom copies r to the wrapped writer, using its ReadFrom (sendfile)
// when it has one.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	w.start()
	n, err := io.Copy(w.w, r)
	w.bytes += n
	return n, err
}

// Flush implements http.Flusher; see FlushError.
func (w *Writer) Flush() { _ = w.FlushError() }

// FlushError flushes the wrapped writer, which sends the header (with an
// implicit 200) if it has not been sent. http.ResponseController prefers it
// over Flush, so an unsupported flush surfaces as an error.
func (w *Writer) FlushError() error {
	w.start()
	return http.NewResponseController(w.w).Flush()
}

// Hijack takes over the connection from the wrapped writer.
func (w *Writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.w).Hijack()
	if err == nil {
		w.hijacked = true
		w.started = true
	}
	return c, rw, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *Writer) Unwrap() http.ResponseWriter { return w.w }

// Status returns the recorded status: 0 before the response started, 200
// after a bare Write or Flush.
func (w *Writer) Status() int { return w.status }

// Bytes returns the number of body bytes written through w.
func (w *Writer) Bytes() int64 { return w.bytes }

// Started reports whether the status line has been sent (or the connection
// hijacked), after which the status can no longer change.
func (w *Writer) Started() bool { return w.started }

// Hijacked reports whether the connection was hijacked through w.
func (w *Writer) Hijacked() bool { return w.hijacked }

func (w *Writer) start() {
	if !w.started {
		w.started = true
		w.status = http.StatusOK
	}
}
