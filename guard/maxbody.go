package guard

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/chassis-go/chassis/internal/reqmeta"
	"github.com/chassis-go/chassis/problem"
)

// MaxBody limits request bodies to n bytes. Exactly n bytes are accepted;
// n == 0 means that no request may carry a body (an empty body is fine).
//
// A request that declares a Content-Length larger than n gets a 413
// problem+json response and next is not called. Other bodies (chunked, or of
// unknown length) are read through [net/http.MaxBytesReader]: the read that
// would pass n bytes returns a [*net/http.MaxBytesError]. If next has not
// written anything yet at that point, its response is replaced by the 413:
// its first WriteHeader, Write, ReadFrom or Flush sends the 413 problem
// instead (or MaxBody sends it when next returns without writing), and its
// later writes are discarded while reporting success, so whatever 400 or 500
// next chose for the failed read never reaches the client. The 413 keeps only
// the response headers set before next first called Header (those of outer
// middleware). If next had already started its response when the limit was
// hit (a full-duplex handler), the response is left alone.
//
// The limit applies to bytes next reads: a body next does not read is never
// measured. The ResponseWriter next sees supports Flush, Hijack, ReadFrom and,
// through Unwrap, every [net/http.ResponseController] method.
//
// Each 413 is counted on chassis.guard.rejections with chassis.guard =
// maxbody, created with the MeterProvider of [WithMeterProvider].
//
// The route a ServeMux inside matched is published to the middleware
// outside (httpkit's access log and span) through the request's metadata.
// MaxBody never sets Pattern on the caller's *http.Request itself; a request
// without a body is passed on as it is.
//
// Panics if n is negative.
func MaxBody(n int64, opts ...MaxBodyOption) func(http.Handler) http.Handler {
	if n < 0 {
		panic(fmt.Sprintf("guard.MaxBody: n is %d; use 0 to refuse any body or a positive byte count", n))
	}
	var o maxBodyOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyMaxBody(&o)
		}
	}
	rc := newRejectionCounter(o.mp, "maxbody")
	tooLarge := problem.PayloadTooLarge(fmt.Sprintf("the request body is larger than %d bytes", n))
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("guard.MaxBody: next handler is nil; pass the handler to protect")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// A ServeMux inside sets Pattern on the request it gets, which
			// middleware outside never see: publish it to them.
			r, info := reqmeta.Ensure(r)
			if r.ContentLength > n {
				rc.add(r)
				problem.Write(w, r, tooLarge)
				return
			}
			if r.Body == nil || r.Body == http.NoBody {
				next.ServeHTTP(w, r)
				info.Publish(r.Pattern)
				return
			}
			mw := &maxBodyWriter{w: w, problem: tooLarge, rejections: rc}
			r2 := new(http.Request)
			*r2 = *r
			// MaxBytesReader gets the writer net/http gave us, so that the
			// server learns the body was cut short and closes the connection.
			r2.Body = &maxBodyReader{ReadCloser: http.MaxBytesReader(w, r.Body, n), hit: &mw.hit}
			mw.r = r2
			next.ServeHTTP(mw, r2)
			info.Publish(r2.Pattern)
			mw.finish()
		})
	}
}

// maxBodyReader records that the limited body reported *http.MaxBytesError.
type maxBodyReader struct {
	io.ReadCloser
	hit *atomic.Bool
}

func (b *maxBodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			b.hit.Store(true)
		}
	}
	return n, err
}

const (
	mbPending  = iota // nothing written yet
	mbStarted         // next's response is going out
	mbReplaced        // the 413 went out instead; next's writes are dropped
)

// maxBodyWriter replaces next's response with a 413 once the body hit the
// limit. It is used by next's goroutine only; hit may be set by any
// goroutine reading the body.
type maxBodyWriter struct {
	w          http.ResponseWriter
	r          *http.Request
	problem    *problem.Error
	rejections rejectionCounter
	hit        atomic.Bool
	state      int
	snapshot   http.Header // the header as it was before next touched it
	snapped    bool
}

var (
	_ http.Flusher                              = (*maxBodyWriter)(nil)
	_ http.Hijacker                             = (*maxBodyWriter)(nil)
	_ io.ReaderFrom                             = (*maxBodyWriter)(nil)
	_ interface{ Unwrap() http.ResponseWriter } = (*maxBodyWriter)(nil)
)

func (mw *maxBodyWriter) Header() http.Header {
	h := mw.w.Header()
	if !mw.snapped && mw.state == mbPending {
		mw.snapshot, mw.snapped = h.Clone(), true
	}
	return h
}

// pass reports whether next's output may go to the client, sending the 413
// first if the limit was hit before the response started. commit reports
// whether the output starts the response.
func (mw *maxBodyWriter) pass(commit bool) bool {
	if mw.state == mbPending {
		if mw.hit.Load() {
			mw.replace()
			return false
		}
		if commit {
			mw.state = mbStarted
		}
	}
	return mw.state != mbReplaced
}

func (mw *maxBodyWriter) replace() {
	mw.state = mbReplaced
	if mw.snapped {
		h := mw.w.Header()
		clear(h)
		maps.Copy(h, mw.snapshot)
	}
	mw.rejections.add(mw.r)
	problem.Write(mw.w, mw.r, mw.problem)
}

// finish runs after next returned: a next that wrote nothing after a failed
// read still produces the 413.
func (mw *maxBodyWriter) finish() {
	if mw.state == mbPending && mw.hit.Load() {
		mw.replace()
	}
}

func (mw *maxBodyWriter) WriteHeader(code int) {
	informational := code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols
	if mw.pass(!informational) {
		mw.w.WriteHeader(code)
	}
}

func (mw *maxBodyWriter) Write(p []byte) (int, error) {
	if !mw.pass(true) {
		return len(p), nil
	}
	return mw.w.Write(p)
}

func (mw *maxBodyWriter) ReadFrom(src io.Reader) (int64, error) {
	if !mw.pass(true) {
		return io.Copy(io.Discard, src)
	}
	return io.Copy(mw.w, src)
}

func (mw *maxBodyWriter) Flush() { _ = mw.FlushError() }

// FlushError flushes the real writer; http.ResponseController prefers it to
// Flush.
func (mw *maxBodyWriter) FlushError() error {
	mw.pass(true)
	return http.NewResponseController(mw.w).Flush()
}

func (mw *maxBodyWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(mw.w).Hijack()
	if err == nil && mw.state == mbPending {
		mw.state = mbStarted
	}
	return c, rw, err
}

// Unwrap returns the real ResponseWriter, for http.ResponseController.
func (mw *maxBodyWriter) Unwrap() http.ResponseWriter { return mw.w }

// rejectionCounter counts responses a guard middleware refused on
// chassis.guard.rejections, with a pre-built attribute set.
type rejectionCounter struct {
	counter metric.Int64Counter
	opts    []metric.AddOption
}

// newRejectionCounter creates the counter from mp (nil: the global provider)
// for the middleware named guard.
func newRejectionCounter(mp metric.MeterProvider, guard string) rejectionCounter {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	c, err := mp.Meter("github.com/chassis-go/chassis/guard").Int64Counter("chassis.guard.rejections",
		metric.WithUnit("{request}"),
		metric.WithDescription("Requests refused by a guard middleware, by middleware."))
	if err != nil {
		otel.Handle(err)
		c = noop.Int64Counter{}
	}
	return rejectionCounter{counter: c, opts: []metric.AddOption{
		metric.WithAttributeSet(attribute.NewSet(attribute.String("chassis.guard", guard)))}}
}

func (rc rejectionCounter) add(r *http.Request) {
	rc.counter.Add(r.Context(), 1, rc.opts...)
}
