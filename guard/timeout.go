package guard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/chassis-go/chassis/internal/panicval"
	"github.com/chassis-go/chassis/internal/reqmeta"
	"github.com/chassis-go/chassis/internal/respwrite"
	"github.com/chassis-go/chassis/problem"
)

// timeoutProblem is the response a client gets when the deadline passes
// before the handler has written anything.
var timeoutProblem = problem.Timeout("the server did not produce a response in time")

// overrunGrace is how long a handler may keep running after Timeout gave up
// on it at its deadline before it counts as an overrun: time enough to
// notice the canceled context and return.
const overrunGrace = time.Second

// Timeout bounds the time next may take to start answering a request, without
// buffering the response.
//
// next runs on its own goroutine with a request context whose deadline is the
// earlier of the incoming context's deadline and now+d (an existing later
// deadline does not turn the timeout off). What the client sees depends on
// when the deadline passes:
//
//   - Before next has written anything: the client gets a 504 problem+json
//     response at once, written by the goroutine that called ServeHTTP while
//     next may still be running. From then on next's writes return
//     [net/http.ErrHandlerTimeout], Flush and the other
//     [net/http.ResponseController] methods return it as errors, and nothing
//     next does reaches the client. Only headers set on the response before
//     Timeout ran (by outer middleware) are on the 504; headers next set are
//     not. The 504 carries the request id recorded by httpkit.RequestID
//     (inside or outside Timeout) or set on the response by outer middleware.
//   - After next has started the response: the status is already sent and the
//     body is partial, so the response can become neither a 504 nor an honest
//     success. Timeout aborts it and then panics with
//     [net/http.ErrAbortHandler] on the serving goroutine: net/http closes
//     the connection (HTTP/1) or resets the stream (HTTP/2) without logging,
//     and the client sees a broken transfer (an unexpected EOF, a connection
//     reset or a stream error), never a truncated body that looks complete.
//     A body delimited by the end of the connection (HTTP/1.0 without
//     Content-Length), which an orderly close would complete, is ended with
//     a TCP reset instead. An outer recovery middleware must let that panic
//     through. A response whose declared Content-Length has been written in
//     full is complete, not partial: Timeout returns without aborting it
//     (next's later writes fail the same way). If a write by next is in progress at the deadline, Timeout
//     first sets the connection's write deadline to now (through
//     ResponseController, where supported) so the write fails, and waits for
//     it to return, because a ResponseWriter must not be used after
//     ServeHTTP returns. A read by next is never waited for: [io.Copy] from a
//     source that produces nothing (a pipe, an upstream body) holds nothing
//     at the deadline.
//   - After next has hijacked the connection: the connection is next's, so
//     Timeout writes nothing and returns.
//
// A handler that returns after the deadline without having written anything
// also produces the 504. If the request context ends for another reason (the
// client went away) before next has written anything, Timeout stops waiting
// the same way, and the status of the unwritten response is 499
// ([problem.StatusClientClosedRequest]). If next has started the response by
// then, Timeout keeps waiting for next to return, until the deadline: the
// client is most likely gone, and a response that next completes is
// complete, never an abort.
//
// Response bytes go to the client as next writes them: memory use does not
// grow with the response size and the time to the first byte is unchanged,
// unlike [net/http.TimeoutHandler], which holds the whole response in memory
// so that it can still send an error. The ResponseWriter next sees supports
// Flush, Hijack, ReadFrom, the deadline and full-duplex methods of
// [net/http.ResponseController], and Unwrap; writing through the unwrapped
// writer bypasses Timeout's protection and must stop at the deadline.
// ReadFrom reads its source without holding the writer (only its writes
// do), except for a regular file, which it hands to the real writer whole
// so that the server can use sendfile.
//
// Cancellation contract: the context next receives is canceled at the
// deadline, and next should return soon after. Timeout does not wait for a
// handler that ignores it: such a handler's goroutine outlives ServeHTTP,
// keeps any resources it holds, and must not read the request body after the
// deadline (the server may close it). A handler still running one second
// after Timeout gave up on it at its deadline is counted on
// chassis.timeout.overruns; one that returns within that second honoured
// its context and is not.
//
// A panic in next before the deadline is raised again, with the same value,
// on the goroutine that called ServeHTTP, so outer recovery middleware and
// net/http handle it as usual. A panic after Timeout stopped waiting has
// nobody to reach: it is recovered and logged at error level with its stack
// (see [WithLogger]) instead of crashing the process; the value's text is
// bounded to about 1 KiB.
//
// next runs on a copy of the request carrying the deadline. The route a
// ServeMux inside matched is published to the middleware outside (httpkit's
// access log and span) through the request's metadata when next returns;
// the caller's *http.Request is not modified.
//
// Cost: the goroutine is the price of answering at the deadline while next
// is stuck. Starting it, and waking the serving goroutine when next
// returns, each wake an idle scheduler thread when a CPU is idle. On an
// idle two-CPU VM that is about 12 µs per request, more than the rest of a
// typical middleware stack; under load, when every CPU is busy, it mostly
// disappears. Timeout also allocates about 12 objects per request (the
// deadline context, the copy of the header map and of the request). For
// handlers that all honour their context, a context deadline alone (set by
// an outer middleware, or http.Server's timeouts) costs less and does not
// answer on next's behalf. BENCHMARKS.md measures both.
//
// Metrics, created with the MeterProvider of [WithMeterProvider]:
// chassis.timeout.expired counts deadlines that ended a request, with the
// attribute chassis.phase = before_response (a 504 was sent) or
// after_response (the response was aborted or hijacked); a client that went
// away is not counted.
//
// Panics if d is not positive, or if next is nil.
func Timeout(d time.Duration, opts ...TimeoutOption) func(http.Handler) http.Handler {
	if d <= 0 {
		panic(fmt.Sprintf("guard.Timeout: d is %v; use a positive duration", d))
	}
	var o timeoutOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyTimeout(&o)
		}
	}
	if o.mp == nil {
		o.mp = otel.GetMeterProvider()
	}
	m := newTimeoutMetrics(o.mp)
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("guard.Timeout: next handler is nil; pass the handler to protect")
		}
		return &timeoutHandler{next: next, d: d, metrics: m, logger: o.logger}
	}
}

type timeoutMetrics struct {
	expired, overruns metric.Int64Counter
	before, after     []metric.AddOption
}

func newTimeoutMetrics(mp metric.MeterProvider) timeoutMetrics {
	meter := mp.Meter("github.com/chassis-go/chassis/guard")
	expired, err := meter.Int64Counter("chassis.timeout.expired",
		metric.WithUnit("{request}"),
		metric.WithDescription("Requests whose handler deadline passed before the handler returned, by phase."))
	if err != nil {
		otel.Handle(err)
		expired = noop.Int64Counter{}
	}
	overruns, err := meter.Int64Counter("chassis.timeout.overruns",
		metric.WithUnit("{request}"),
		metric.WithDescription("Handlers still running one second after Timeout stopped waiting for them at their deadline."))
	if err != nil {
		otel.Handle(err)
		overruns = noop.Int64Counter{}
	}
	phase := func(p string) []metric.AddOption {
		return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("chassis.phase", p)))}
	}
	return timeoutMetrics{expired: expired, overruns: overruns,
		before: phase("before_response"), after: phase("after_response")}
}

type timeoutHandler struct {
	next    http.Handler
	d       time.Duration
	metrics timeoutMetrics
	logger  *slog.Logger

	// Hooks for white-box tests; nil in production.
	//
	// exited is called on the handler goroutine as its very last action.
	// decided is called on the serving goroutine once it has decided, under
	// the lock, what to do about a context that ended before the handler
	// returned. afterFunc replaces time.AfterFunc for the overrun check, and
	// deadlineAfter time.After for the deadline of a client that went away.
	exited        func()
	decided       func()
	afterFunc     func(d time.Duration, f func())
	deadlineAfter func(d time.Duration) <-chan time.Time
}

// Design of the streaming timeout.
//
// The handler runs on its own goroutine and writes through a timeoutWriter;
// the serving goroutine (the one net/http called ServeHTTP on) waits for
// either the handler's return or the context's end. Both goroutines may want
// the real ResponseWriter: the handler to stream its response, the serving
// goroutine to write the 504 or, after the response started, to return and
// let net/http tear the connection down. They must never use it at the same
// time, and the handler must not use it once ServeHTTP has returned.
//
// A mutex guards a small state machine: idle (nothing written), writing (an
// operation of the handler on the real writer is in progress; a count,
// because the serving goroutine of a nested Timeout may call SetWriteDeadline
// while the handler writes), started (the status is committed), timedOut (the
// serving goroutine has taken the writer back for good), done (the handler
// returned). Each operation of the handler
// on the real writer (WriteHeader, Write, ReadFrom, Flush, Hijack, the
// deadline methods) marks writing under the lock, refusing with
// ErrHandlerTimeout if timedOut is set, then performs its network I/O
// OUTSIDE the lock and clears writing under the lock afterwards. The lock is
// therefore never held during I/O, and the serving goroutine never blocks
// behind a slow client just to learn the state.
//
// At the deadline the serving goroutine takes the lock and sets timedOut,
// after which no new operation of the handler can start. If one is in
// progress it waits on a condition variable for it to end (after setting the
// connection's write deadline to now when the response has started, so a
// write blocked on a slow client fails quickly). Only then does it act, with
// the writer to itself: it writes the 504 if nothing was started, or aborts
// the response (respwrite.Abort) if it had started. Reads are never
// reserved: ReadFrom reads its source unreserved and reserves the writer for
// each write only, so a source that never produces cannot hold the serving
// goroutine. When the context ends because the client went away after the
// response started, the serving goroutine does not take the writer back: it
// waits for the handler until the deadline, since a response the handler
// completes must not be reported (and logged) as aborted.
//
// Headers: the handler gets a private copy of the header map, taken before
// it starts. The handler's first operation on the real writer copies the
// private map into the real one (while marked writing), and the serving
// goroutine copies the trailers in it after the handler returns.
// Without the copy a handler setting a header after the deadline would race
// with the 504 being written (a concurrent map write crashes the process).
type timeoutWriter struct {
	w http.ResponseWriter
	h http.Header // the handler's header map

	mu       sync.Mutex
	cond     sync.Cond // signaled, with mu, when writing drops to 0 after timedOut
	writing  int       // operations on w in progress (the serving goroutine of a nested Timeout may add one)
	started  bool
	hijacked bool
	timedOut bool
	done     bool
	panicVal any   // what the handler panicked with, set with done
	ctxErr   error // the handler context's Err when the handler returned, set with done

	// Set by the handler while it holds a reservation, read by the serving
	// goroutine once writing is 0: the Content-Length the response declared
	// (-1: none) and the body bytes written.
	declared, written int64

	// returned, if the serving goroutine waits for the handler after the
	// client went away, is created by it and closed by the handler goroutine
	// with done. The common paths need no channel: the handler goroutine
	// cancels the context the serving goroutine waits on.
	returned chan struct{}

	// vals holds the values of h when they are few, so that the copy of
	// the header costs one allocation fewer than http.Header.Clone.
	vals [16]string
}

var (
	_ http.Flusher                              = (*timeoutWriter)(nil)
	_ http.Hijacker                             = (*timeoutWriter)(nil)
	_ io.ReaderFrom                             = (*timeoutWriter)(nil)
	_ interface{ Unwrap() http.ResponseWriter } = (*timeoutWriter)(nil)
)

func (h *timeoutHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// next's route reaches the middleware outside through info, and the 504
	// finds the request id there.
	r, info := reqmeta.Ensure(r)
	ctx, cancel := context.WithTimeout(r.Context(), h.d)
	defer cancel()
	tw := &timeoutWriter{w: w, declared: -1}
	tw.h = cloneHeader(w.Header(), tw.vals[:])
	tw.cond.L = &tw.mu
	// inner shares r's header map with next, which may modify it: the
	// serving goroutine reads only r's other fields from here on.
	inner := r.WithContext(ctx)
	go h.run(tw, inner, info, cancel)
	// ctx ends at the deadline, when the client goes away, or when the
	// handler returns (run cancels it after setting done): expire tells
	// these apart under the lock.
	<-ctx.Done()
	h.expire(ctx, w, tw, r, ctx.Err())
}

// run executes the handler on its own goroutine, and cancels its context
// once it has returned, to wake the serving goroutine.
func (h *timeoutHandler) run(tw *timeoutWriter, r *http.Request, info *reqmeta.Info, cancel context.CancelFunc) {
	defer func() {
		p := recover()
		// A ServeMux inside set the route on r; publish it before the
		// serving goroutine can see done.
		info.Publish(r.Pattern)
		tw.mu.Lock()
		tw.done = true
		tw.panicVal = p
		tw.ctxErr = r.Context().Err()
		abandoned := tw.timedOut
		if tw.returned != nil {
			close(tw.returned)
		}
		tw.mu.Unlock()
		cancel()
		if abandoned && p != nil && !isAbort(p) {
			logger := h.logger
			if logger == nil {
				logger = slog.Default()
			}
			logger.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelError,
				"guard.Timeout: handler panicked after its deadline; the response was already sent",
				slog.String("panic", panicval.String(p)), slog.String("stack", string(debug.Stack())))
		}
		if h.exited != nil {
			h.exited()
		}
	}()
	h.next.ServeHTTP(tw, r)
}

// isAbort reports whether a recovered value is net/http's request to abort
// the response, which is not a failure to report.
func isAbort(p any) bool {
	err, ok := p.(error)
	return ok && errors.Is(err, http.ErrAbortHandler)
}

// finish completes a request whose handler returned before the serving
// goroutine gave up on it. The handler goroutine has set done, after which
// it no longer touches tw, so tw is no longer shared.
func (h *timeoutHandler) finish(w http.ResponseWriter, tw *timeoutWriter, r *http.Request) {
	if tw.panicVal != nil {
		panic(tw.panicVal)
	}
	if tw.started {
		// After the status is sent only trailers still matter; net/http
		// reads them from the header map after ServeHTTP returns.
		copyTrailers(w.Header(), tw.h)
		return
	}
	if err := tw.ctxErr; err != nil {
		// The handler gave up without answering because its context ended.
		h.writeExpired(w, r, err)
		return
	}
	syncHeader(w.Header(), tw.h)
}

// expire handles the end of ctx, with error err: the handler returned (run
// canceled ctx after setting done), the deadline passed, or the client went
// away.
func (h *timeoutHandler) expire(ctx context.Context, w http.ResponseWriter, tw *timeoutWriter, r *http.Request, err error) {
	deadline := errors.Is(err, context.DeadlineExceeded)
	tw.mu.Lock()
	if tw.done {
		// The handler returned (and canceled ctx), or returned at the same
		// moment as the context ended: it decided.
		tw.mu.Unlock()
		h.finish(w, tw, r)
		return
	}
	if !deadline && tw.started && !tw.hijacked {
		// The client went away after the response started (a client that
		// read a complete response may close at once). Aborting would log
		// a complete response as a failure, and returning now would let
		// net/http end a partial one in order: wait for the handler until
		// the deadline instead. (A hijacked connection is the handler's:
		// there is nothing to wait for.)
		tw.mu.Unlock()
		if h.decided != nil {
			h.decided()
		}
		if h.await(ctx, tw) {
			h.finish(w, tw, r)
			return
		}
		h.expire(ctx, w, tw, r, context.DeadlineExceeded)
		return
	}
	tw.timedOut = true
	if h.decided != nil {
		h.decided()
	}
	if tw.writing > 0 && tw.started {
		// The response will be aborted: make a write blocked on a slow
		// client fail now rather than at the server's WriteTimeout. The
		// call is safe concurrently with the write (net.Conn deadlines).
		tw.mu.Unlock()
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now())
		tw.mu.Lock()
	}
	for tw.writing > 0 {
		tw.cond.Wait()
	}
	started, hijacked, complete := tw.started, tw.hijacked, tw.started && tw.complete()
	tw.mu.Unlock()
	// From here on the handler goroutine cannot reach w.

	if deadline {
		h.watchOverrun(ctx, tw)
	}
	switch {
	case !started:
		h.writeExpired(w, r, err)
	case hijacked:
		if deadline {
			h.metrics.expired.Add(context.WithoutCancel(ctx), 1, h.metrics.after...)
		}
	case complete:
		// Every byte of the declared body was sent: the client has the
		// whole response, and aborting would only report it as failed.
	default:
		if deadline {
			h.metrics.expired.Add(context.WithoutCancel(ctx), 1, h.metrics.after...)
		}
		respwrite.Abort(w, r)
	}
}

// await waits for the handler to return until ctx's deadline, and reports
// whether it did.
func (h *timeoutHandler) await(ctx context.Context, tw *timeoutWriter) bool {
	tw.mu.Lock()
	if tw.done {
		tw.mu.Unlock()
		return true
	}
	if tw.returned == nil {
		tw.returned = make(chan struct{})
	}
	returned := tw.returned
	tw.mu.Unlock()
	deadline, _ := ctx.Deadline() // WithTimeout always sets one
	var fired <-chan time.Time
	if h.deadlineAfter != nil {
		fired = h.deadlineAfter(time.Until(deadline))
	} else {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		fired = t.C
	}
	select {
	case <-returned:
		return true
	case <-fired:
		return false
	}
}

// watchOverrun counts the handler on chassis.timeout.overruns if it is still
// running overrunGrace after Timeout gave up on it at its deadline.
func (h *timeoutHandler) watchOverrun(ctx context.Context, tw *timeoutWriter) {
	ctx = context.WithoutCancel(ctx)
	check := func() {
		tw.mu.Lock()
		running := !tw.done
		tw.mu.Unlock()
		if running {
			h.metrics.overruns.Add(ctx, 1)
		}
	}
	if h.afterFunc != nil {
		h.afterFunc(overrunGrace, check)
		return
	}
	time.AfterFunc(overrunGrace, check)
}

// writeExpired writes the error response for a request whose context ended
// before anything was written: 504 at the deadline, 499 when the client
// went away. r's header map is shared with the handler, which may still be
// running, so problem.Write gets a request with r's method and context only:
// the request id comes from the request metadata (or the response header).
func (h *timeoutHandler) writeExpired(w http.ResponseWriter, r *http.Request, err error) {
	var p error = timeoutProblem
	if errors.Is(err, context.DeadlineExceeded) {
		h.metrics.expired.Add(context.WithoutCancel(r.Context()), 1, h.metrics.before...)
	} else {
		p = err
	}
	problem.Write(w, (&http.Request{Method: r.Method}).WithContext(r.Context()), p)
}

// cloneHeader is http.Header.Clone, except that the values go into buf
// when they fit, and that a nil src gives an empty map. Each entry gets a
// capacity-limited slice, so an append to one never writes into another.
func cloneHeader(src http.Header, buf []string) http.Header {
	n := 0
	for _, v := range src {
		n += len(v)
	}
	if n > len(buf) {
		buf = make([]string, n)
	}
	h := make(http.Header, len(src))
	for k, v := range src {
		if v == nil {
			h[k] = nil // as Clone: a nil value stays nil, so Write omits it
			continue
		}
		n := copy(buf, v)
		h[k] = buf[:n:n]
		buf = buf[n:]
	}
	return h
}

// syncHeader makes dst hold exactly the entries of src. The value slices are
// shared but clipped, so an append on either side cannot write into memory
// the other side reads.
func syncHeader(dst, src http.Header) {
	clear(dst)
	for k, v := range src {
		dst[k] = slices.Clip(v)
	}
}

// copyTrailers copies to dst the trailers set in src: the keys declared in
// src's Trailer header and those with the http.TrailerPrefix.
func copyTrailers(dst, src http.Header) {
	declared := src["Trailer"]
	for k, v := range src {
		if strings.HasPrefix(k, http.TrailerPrefix) || isDeclaredTrailer(declared, k) {
			dst[k] = slices.Clip(v)
		}
	}
}

func isDeclaredTrailer(declared []string, k string) bool {
	for _, line := range declared {
		for name := range strings.SplitSeq(line, ",") {
			if strings.EqualFold(strings.TrimSpace(name), k) {
				return true
			}
		}
	}
	return false
}

// begin reserves the real writer for one operation of the handler. It
// reports whether this operation starts the response (commit reports whether
// the operation commits the status), or ErrHandlerTimeout once the serving
// goroutine has taken the writer back.
func (tw *timeoutWriter) begin(commit bool) (first bool, err error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut {
		return false, http.ErrHandlerTimeout
	}
	tw.writing++
	if commit && !tw.started {
		tw.started = true
		first = true
	}
	return first, nil
}

// end releases the reservation taken by begin.
func (tw *timeoutWriter) end() {
	tw.mu.Lock()
	tw.writing--
	if tw.timedOut && tw.writing == 0 {
		tw.cond.Broadcast()
	}
	tw.mu.Unlock()
}

// commit copies the handler's header to the real writer as the response
// starts, and records the Content-Length it declares. It runs while the
// writer is reserved.
func (tw *timeoutWriter) commit() {
	syncHeader(tw.w.Header(), tw.h)
	tw.declared = -1
	if cl := tw.h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			tw.declared = n
		}
	}
}

// complete reports whether the response body is complete: all the bytes of
// its declared Content-Length were written. The serving goroutine calls it
// once the handler can no longer write.
func (tw *timeoutWriter) complete() bool {
	return tw.declared >= 0 && tw.written == tw.declared
}

// Header returns the handler's own header map; see the design comment.
func (tw *timeoutWriter) Header() http.Header { return tw.h }

// WriteHeader forwards the status unless the deadline has passed, in which
// case the call does nothing.
func (tw *timeoutWriter) WriteHeader(code int) {
	informational := code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols
	first, err := tw.begin(!informational)
	if err != nil {
		return
	}
	defer tw.end()
	switch {
	case first:
		tw.commit()
	case informational:
		syncHeader(tw.w.Header(), tw.h)
	}
	tw.w.WriteHeader(code)
}

// Write forwards p to the client, or returns ErrHandlerTimeout after the
// deadline.
func (tw *timeoutWriter) Write(p []byte) (int, error) {
	first, err := tw.begin(true)
	if err != nil {
		return 0, err
	}
	defer tw.end()
	if first {
		tw.commit()
	}
	n, err := tw.w.Write(p)
	tw.written += int64(n)
	return n, err
}

// ReadFrom copies src to the client. Only the writes hold the real writer:
// a read that blocks (a pipe, an upstream body) does not keep Timeout from
// answering at the deadline. A regular file (or a prefix of one, as
// http.ServeContent sends) goes to the real writer's ReadFrom whole, so that
// the server can use sendfile; reading a file does not block indefinitely.
func (tw *timeoutWriter) ReadFrom(src io.Reader) (int64, error) {
	if isRegularFile(src) {
		first, err := tw.begin(true)
		if err != nil {
			return 0, err
		}
		defer tw.end()
		if first {
			tw.commit()
		}
		n, err := io.Copy(tw.w, src)
		tw.written += n
		return n, err
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	// writerOnly hides ReadFrom, so that CopyBuffer reads (or lets src
	// write) into tw.Write, which reserves the writer per chunk.
	return io.CopyBuffer(writerOnly{tw}, src, *bp)
}

// copyBufs holds the buffers of ReadFrom.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writerOnly is an io.Writer without the other methods of what it wraps.
type writerOnly struct{ io.Writer }

// isRegularFile reports whether r reads a regular file.
func isRegularFile(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode().IsRegular()
}

// Flush implements http.Flusher; see FlushError.
func (tw *timeoutWriter) Flush() { _ = tw.FlushError() }

// FlushError sends buffered data to the client (and the header, with an
// implicit 200, if not yet sent). It returns ErrHandlerTimeout after the
// deadline and an error matching http.ErrNotSupported when the real writer
// cannot flush.
func (tw *timeoutWriter) FlushError() error {
	first, err := tw.begin(true)
	if err != nil {
		return err
	}
	defer tw.end()
	if first {
		tw.commit()
	}
	err = http.NewResponseController(tw.w).Flush()
	if first && errors.Is(err, http.ErrNotSupported) {
		// Nothing was sent: a 504 is still possible. We are still marked
		// writing, so the serving goroutine is not looking.
		tw.mu.Lock()
		tw.started = false
		tw.mu.Unlock()
	}
	return err
}

// Hijack hands the connection to the handler; after that Timeout writes
// nothing, even at the deadline.
func (tw *timeoutWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if _, err := tw.begin(false); err != nil {
		return nil, nil, err
	}
	defer tw.end()
	c, rw, err := http.NewResponseController(tw.w).Hijack()
	if err == nil {
		tw.mu.Lock()
		tw.hijacked, tw.started = true, true
		tw.mu.Unlock()
	}
	return c, rw, err
}

// SetReadDeadline implements http.ResponseController's method of that name.
func (tw *timeoutWriter) SetReadDeadline(deadline time.Time) error {
	if _, err := tw.begin(false); err != nil {
		return err
	}
	defer tw.end()
	return http.NewResponseController(tw.w).SetReadDeadline(deadline)
}

// SetWriteDeadline implements http.ResponseController's method of that name.
func (tw *timeoutWriter) SetWriteDeadline(deadline time.Time) error {
	if _, err := tw.begin(false); err != nil {
		return err
	}
	defer tw.end()
	return http.NewResponseController(tw.w).SetWriteDeadline(deadline)
}

// EnableFullDuplex implements http.ResponseController's method of that name.
func (tw *timeoutWriter) EnableFullDuplex() error {
	if _, err := tw.begin(false); err != nil {
		return err
	}
	defer tw.end()
	return http.NewResponseController(tw.w).EnableFullDuplex()
}

// Unwrap returns the real ResponseWriter. Writes through it bypass Timeout's
// coordination and must stop at the deadline.
func (tw *timeoutWriter) Unwrap() http.ResponseWriter { return tw.w }
