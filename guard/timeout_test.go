package guard_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/internal/reqmeta"
	"github.com/chassis-go/chassis/problem"
)

// mwCounter returns the value of the Int64 counter name whose data
// point has attribute key = value (key "" for a counter without attributes).
func mwCounter(t *testing.T, reader sdkmetric.Reader, name, key, value string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	data := rlFindMetric(rm, name)
	if data == nil {
		return 0
	}
	sum, ok := data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is %T; want an Int64 sum", name, data)
	}
	for _, dp := range sum.DataPoints {
		if key == "" {
			if dp.Attributes.Len() == 0 {
				return dp.Value
			}
			continue
		}
		if v, ok := dp.Attributes.Value(attribute.Key(key)); ok && v.AsString() == value {
			return dp.Value
		}
	}
	return 0
}

// mwExpirable is a request context whose deadline passes when the test calls
// expire: Err then reports context.DeadlineExceeded, exactly as when a real
// deadline passes, but at a moment the test chooses (after the handler has
// written, say) instead of whenever a timer fires on a loaded machine.
type mwExpirable struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newMWExpirable(parent context.Context) *mwExpirable {
	return &mwExpirable{Context: parent, done: make(chan struct{})}
}

func (c *mwExpirable) Done() <-chan struct{} { return c.done }
func (c *mwExpirable) expire()               { c.once.Do(func() { close(c.done) }) }
func (c *mwExpirable) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// mwRecover runs f and returns what it panicked with, or nil.
func mwRecover(f func()) (p any) {
	defer func() { p = recover() }()
	f()
	return nil
}

// mwServe calls h.ServeHTTP with a recorder and returns the recorder and the
// value ServeHTTP panicked with, if any.
func mwServe(h http.Handler, r *http.Request) (*httptest.ResponseRecorder, any) {
	rec := httptest.NewRecorder()
	p := mwRecover(func() { h.ServeHTTP(rec, r) })
	return rec, p
}

func TestTimeoutPanicsOnMisuse(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"zero d", func() { guard.Timeout(0) }, "guard.Timeout: d is 0s"},
		{"negative d", func() { guard.Timeout(-time.Second) }, "guard.Timeout: d is -1s"},
		{"nil next", func() { guard.Timeout(time.Second)(nil) }, "guard.Timeout: next handler is nil"},
		{"valid", func() { guard.Timeout(time.Nanosecond)(ok) }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mwRecover(tc.f)
			if tc.want == "" {
				if p != nil {
					t.Fatalf("panic %v; want none", p)
				}
				return
			}
			if s, _ := p.(string); !strings.HasPrefix(s, tc.want) {
				t.Errorf("panic %v; want a message starting %q", p, tc.want)
			}
		})
	}
}

func TestTimeoutPassesFastResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantBody   string
		wantHeader map[string]string
	}{
		{
			name: "status, header and body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Handler", "yes")
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, "created")
			},
			wantStatus: http.StatusCreated, wantBody: "created",
			wantHeader: map[string]string{"X-Handler": "yes", "X-Outer": "kept"},
		},
		{
			name: "implicit 200 on write",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("hello"))
			},
			wantStatus: http.StatusOK, wantBody: "hello",
			wantHeader: map[string]string{"X-Outer": "kept"},
		},
		{
			name: "headers only, nothing written",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Handler", "yes")
				w.Header().Del("X-Outer")
			},
			wantStatus: http.StatusOK,
			wantHeader: map[string]string{"X-Handler": "yes", "X-Outer": ""},
		},
		{
			name: "ReadFrom",
			handler: func(w http.ResponseWriter, r *http.Request) {
				n, err := io.Copy(w, strings.NewReader("copied body"))
				if n != 11 || err != nil {
					panic(fmt.Sprintf("io.Copy = %d, %v; want 11, nil", n, err))
				}
			},
			wantStatus: http.StatusOK, wantBody: "copied body",
			wantHeader: map[string]string{"X-Outer": "kept"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := guard.Timeout(time.Minute)(tc.handler)
			rec := httptest.NewRecorder()
			rec.Header().Set("X-Outer", "kept")
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != tc.wantStatus || rec.Body.String() != tc.wantBody {
				t.Errorf("Timeout response = %d %q; want %d %q", rec.Code, rec.Body, tc.wantStatus, tc.wantBody)
			}
			for k, v := range tc.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q; want %q", k, got, v)
				}
			}
		})
	}
}

func TestTimeoutDeadlineIsTighterOfBoth(t *testing.T) {
	t.Parallel()
	const d = time.Hour
	tests := []struct {
		name   string
		parent time.Duration // deadline of the incoming context from now; 0: none
		tight  bool          // the parent's deadline is the tighter one
	}{
		{"no parent deadline", 0, false},
		{"looser parent deadline", 3 * time.Hour, false},
		{"tighter parent deadline", 30 * time.Minute, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var parentDeadline time.Time
			if tc.parent != 0 {
				var cancel context.CancelFunc
				parentDeadline = time.Now().Add(tc.parent)
				ctx, cancel = context.WithDeadline(ctx, parentDeadline)
				defer cancel()
			}
			var got time.Time
			var ok bool
			h := guard.Timeout(d)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, ok = r.Context().Deadline()
			}))
			before := time.Now()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
			after := time.Now()
			switch {
			case !ok:
				t.Fatalf("handler context has no deadline; want one")
			case tc.tight && !got.Equal(parentDeadline):
				t.Errorf("handler deadline = %v; want the parent's %v", got, parentDeadline)
			case !tc.tight && (got.Before(before.Add(d)) || got.After(after.Add(d))):
				t.Errorf("handler deadline = %v; want now+%v, between %v and %v", got, d, before.Add(d), after.Add(d))
			}
		})
	}
}

// mwBlocked returns a handler that signals on entered, waits for
// release, then calls after (if non-nil) and closes exited.
func mwBlocked(entered, release, exited chan struct{}, after func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(exited)
		close(entered)
		<-release
		if after != nil {
			after(w, r)
		}
	})
}

func TestTimeout504BeforeResponse(t *testing.T) {
	t.Parallel()
	entered, release, exited := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var writeErr, flushErr, deadlineErr error
	var written int
	h := guard.Timeout(20 * time.Millisecond)(mwBlocked(entered, release, exited, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Late", "1") // must not race with the 504
		w.WriteHeader(http.StatusOK)
		written, writeErr = w.Write([]byte("too late"))
		rc := http.NewResponseController(w)
		flushErr = rc.Flush()
		deadlineErr = rc.SetWriteDeadline(time.Now().Add(time.Second))
	}))
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Outer", "kept")
	// The request id lives in the request metadata, where httpkit.RequestID
	// records it.
	req, info := reqmeta.Ensure(httptest.NewRequest(http.MethodGet, "/slow", nil))
	info.SetRequestID("req-1")
	h.ServeHTTP(rec, req) // returns although the handler is still blocked
	<-entered
	if rec.Code != http.StatusGatewayTimeout {
		t.Errorf("status = %d; want 504", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("Content-Type = %q; want %q", ct, problem.ContentType)
	}
	if got := rec.Header().Get("X-Outer"); got != "kept" {
		t.Errorf("X-Outer = %q; want the outer middleware's header kept", got)
	}
	if !strings.Contains(rec.Body.String(), `"status":504`) || !strings.Contains(rec.Body.String(), `"request_id":"req-1"`) {
		t.Errorf("body = %s; want a 504 problem with the request id", rec.Body)
	}

	close(release)
	<-exited
	if written != 0 || !errors.Is(writeErr, http.ErrHandlerTimeout) {
		t.Errorf("late Write = %d, %v; want 0, http.ErrHandlerTimeout", written, writeErr)
	}
	if !errors.Is(flushErr, http.ErrHandlerTimeout) || !errors.Is(deadlineErr, http.ErrHandlerTimeout) {
		t.Errorf("late Flush, SetWriteDeadline = %v, %v; want http.ErrHandlerTimeout", flushErr, deadlineErr)
	}
	if rec.Header().Get("X-Late") != "" || strings.Contains(rec.Body.String(), "too late") {
		t.Errorf("response = %v %q; want nothing of the late handler", rec.Header(), rec.Body)
	}
}

func TestTimeoutHandlerReturningAfterDeadlineWithoutWriting(t *testing.T) {
	t.Parallel()
	h := guard.Timeout(20 * time.Millisecond)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a well-behaved handler gives up
	}))
	rec, p := mwServe(h, httptest.NewRequest(http.MethodGet, "/", nil))
	if p != nil || rec.Code != http.StatusGatewayTimeout {
		t.Errorf("Timeout = %d, panic %v; want 504, no panic", rec.Code, p)
	}
}

func TestTimeoutClientGone(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	entered, release, exited := make(chan struct{}), make(chan struct{}), make(chan struct{})
	h := guard.Timeout(time.Hour, guard.WithMeterProvider(mp))(mwBlocked(entered, release, exited, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		rec, _ := mwServe(h, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
		done <- rec
	}()
	<-entered
	cancel()
	rec := <-done
	close(release)
	<-exited
	if rec.Code != problem.StatusClientClosedRequest {
		t.Errorf("status after the client went away = %d; want 499", rec.Code)
	}
	if n := mwCounter(t, reader, "chassis.timeout.expired", "chassis.phase", "before_response"); n != 0 {
		t.Errorf("chassis.timeout.expired = %d; want 0 for a client that went away", n)
	}
}

func TestTimeoutAbortsStartedResponse(t *testing.T) {
	t.Parallel()
	release, exited := make(chan struct{}), make(chan struct{})
	ctx := newMWExpirable(context.Background())
	var lateErr error
	h := guard.Timeout(time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(exited)
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		ctx.expire() // the deadline passes after the response started
		<-release    // and the handler ignores it
		_, lateErr = io.WriteString(w, "rest")
	}))
	rec, p := mwServe(h, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	close(release)
	<-exited
	if p != http.ErrAbortHandler {
		t.Errorf("ServeHTTP panicked with %v; want http.ErrAbortHandler", p)
	}
	if rec.Code != http.StatusOK || rec.Body.String() != "partial" {
		t.Errorf("response = %d %q; want 200 %q and nothing after the deadline", rec.Code, rec.Body, "partial")
	}
	if !errors.Is(lateErr, http.ErrHandlerTimeout) {
		t.Errorf("Write after the abort = %v; want http.ErrHandlerTimeout", lateErr)
	}
}

// mwServer starts h on an HTTP/1 or HTTP/2 (TLS) test server whose
// error log goes to errLog (or nowhere).
func mwServer(t *testing.T, h http.Handler, http2 bool, errLog io.Writer) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if errLog == nil {
		errLog = io.Discard
	}
	srv.Config.ErrorLog = log.New(errLog, "", 0)
	if http2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// mwAbortServer serves, behind guard.Timeout, a handler that writes and
// flushes "partial ", then has its deadline pass and ignores it until
// release is called; release returns once the handler has.
func mwAbortServer(t *testing.T, http2 bool) (srv *httptest.Server, release func()) {
	t.Helper()
	released, exited := make(chan struct{}), make(chan struct{})
	var ctx *mwExpirable
	h := guard.Timeout(time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(exited)
		io.WriteString(w, "partial ")
		http.NewResponseController(w).Flush()
		ctx.expire() // the deadline passes after the response started
		<-released   // and the handler ignores it
	}))
	srv = mwServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx = newMWExpirable(r.Context())
		h.ServeHTTP(w, r.WithContext(ctx))
	}), http2, nil)
	return srv, func() {
		close(released)
		<-exited
	}
}

func TestTimeoutAbortOverNetwork(t *testing.T) {
	t.Parallel()
	for _, proto := range []struct {
		name  string
		http2 bool
	}{{"HTTP/1.1", false}, {"HTTP/2", true}} {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			srv, release := mwAbortServer(t, proto.http2)
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			release()
			if resp.ProtoMajor != map[bool]int{false: 1, true: 2}[proto.http2] {
				t.Fatalf("protocol = %s; want %s", resp.Proto, proto.name)
			}
			if resp.StatusCode != http.StatusOK || string(body) != "partial " {
				t.Errorf("response = %d %q; want 200 %q", resp.StatusCode, body, "partial ")
			}
			if err == nil {
				t.Fatalf("reading the body succeeded; want an error: a truncated response must not look complete")
			}
			if !proto.http2 && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("reading the body = %v; want io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// mwStallWriter is a ResponseWriter whose Write blocks until SetWriteDeadline
// is called, like a write to a client that stopped reading. It counts calls
// in progress, to detect concurrent use.
type mwStallWriter struct {
	h          http.Header
	inWrite    chan struct{} // closed when a Write is blocked
	unblock    chan struct{} // closed by SetWriteDeadline
	once       sync.Once
	active     atomic.Int32
	concurrent atomic.Bool
	deadline   atomic.Bool
}

func newMWStallWriter() *mwStallWriter {
	return &mwStallWriter{h: http.Header{}, inWrite: make(chan struct{}), unblock: make(chan struct{})}
}

func (s *mwStallWriter) enter() func() {
	if s.active.Add(1) > 1 {
		s.concurrent.Store(true)
	}
	return func() { s.active.Add(-1) }
}

func (s *mwStallWriter) Header() http.Header { return s.h }
func (s *mwStallWriter) WriteHeader(int)     { defer s.enter()() }
func (s *mwStallWriter) Write(p []byte) (int, error) {
	defer s.enter()()
	s.once.Do(func() { close(s.inWrite) })
	<-s.unblock
	return 0, errors.New("write deadline exceeded")
}

func (s *mwStallWriter) SetWriteDeadline(time.Time) error {
	if s.deadline.CompareAndSwap(false, true) {
		close(s.unblock)
	}
	return nil
}

func TestTimeoutWaitsForWriteInProgress(t *testing.T) {
	t.Parallel()
	exited := make(chan struct{})
	var writeErr error
	h := guard.Timeout(time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(exited)
		_, writeErr = w.Write([]byte("stuck")) // blocks until Timeout sets the write deadline
	}))
	sw := newMWStallWriter()
	ctx := newMWExpirable(context.Background())
	type result struct {
		panicked any
		active   int32
	}
	done := make(chan result)
	go func() {
		var active int32
		p := mwRecover(func() {
			defer func() { active = sw.active.Load() }()
			h.ServeHTTP(sw, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
		})
		done <- result{p, active}
	}()
	<-sw.inWrite
	ctx.expire() // the deadline passes while the write is stuck
	res := <-done
	<-exited
	if res.panicked != http.ErrAbortHandler {
		t.Errorf("ServeHTTP panicked with %v; want http.ErrAbortHandler", res.panicked)
	}
	if !sw.deadline.Load() {
		t.Errorf("SetWriteDeadline was not called; want the stuck write cut short")
	}
	if res.active != 0 || sw.concurrent.Load() {
		t.Errorf("writer calls in progress when ServeHTTP returned = %d, concurrent = %v; want 0, false", res.active, sw.concurrent.Load())
	}
	if writeErr == nil {
		t.Errorf("stuck Write returned no error; want the deadline error")
	}
}

func TestTimeoutNested(t *testing.T) {
	t.Parallel()
	exited := make(chan struct{})
	inner := guard.Timeout(time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(exited)
		w.Write([]byte("stuck")) // blocks until a Timeout sets the write deadline
	}))
	ctx := newMWExpirable(context.Background())
	// Only the inner Timeout's context expires: it must reach the real
	// writer's SetWriteDeadline through the outer Timeout's writer, while the
	// handler's Write is in progress there.
	h := guard.Timeout(time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx.Context = r.Context()
		inner.ServeHTTP(w, r.WithContext(ctx))
	}))
	sw := newMWStallWriter()
	done := make(chan any)
	go func() { done <- mwRecover(func() { h.ServeHTTP(sw, httptest.NewRequest(http.MethodGet, "/", nil)) }) }()
	<-sw.inWrite
	ctx.expire()
	p := <-done
	<-exited
	if p != http.ErrAbortHandler {
		t.Errorf("nested Timeouts panicked with %v; want http.ErrAbortHandler", p)
	}
	if !sw.deadline.Load() || sw.concurrent.Load() || sw.active.Load() != 0 {
		t.Errorf("write deadline set = %v, concurrent writes = %v, writes in progress = %d; want true, false, 0",
			sw.deadline.Load(), sw.concurrent.Load(), sw.active.Load())
	}
}

// mwCheckWriter discards the response and records misuse: concurrent calls,
// and calls after the serving goroutine declared it closed.
type mwCheckWriter struct {
	h          http.Header
	mu         sync.Mutex
	status     int
	active     atomic.Int32
	closed     atomic.Bool
	concurrent atomic.Bool
	afterClose atomic.Bool
}

func (c *mwCheckWriter) enter() func() {
	if c.closed.Load() {
		c.afterClose.Store(true)
	}
	if c.active.Add(1) > 1 {
		c.concurrent.Store(true)
	}
	return func() { c.active.Add(-1) }
}

func (c *mwCheckWriter) Header() http.Header { return c.h }
func (c *mwCheckWriter) WriteHeader(code int) {
	defer c.enter()()
	c.mu.Lock()
	if c.status == 0 {
		c.status = code
	}
	c.mu.Unlock()
}

func (c *mwCheckWriter) Write(p []byte) (int, error) {
	defer c.enter()()
	c.mu.Lock()
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.mu.Unlock()
	return len(p), nil
}

func (c *mwCheckWriter) Flush() { defer c.enter()() }

// TestTimeoutNeverInterleaves races handlers writing around their deadline
// against the 504 and the abort: the real writer must never be used by two
// goroutines at once, nor after ServeHTTP returned. The race detector checks
// the header map too.
func TestTimeoutNeverInterleaves(t *testing.T) {
	t.Parallel()
	handlers := map[string]func(w http.ResponseWriter, r *http.Request){
		"writes from the start": func(w http.ResponseWriter, r *http.Request) {
			for i := 0; ; i++ {
				w.Header().Set("X-I", fmt.Sprint(i))
				if _, err := w.Write([]byte("chunk")); err != nil {
					return
				}
				if i%8 == 0 {
					http.NewResponseController(w).Flush()
				}
			}
		},
		"writes at the deadline": func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			w.Header().Set("X-Late", "1")
			for {
				if _, err := w.Write([]byte("chunk")); err != nil {
					return
				}
			}
		},
	}
	for name, handler := range handlers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for range 30 {
				exited := make(chan struct{})
				h := guard.Timeout(time.Millisecond)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					defer close(exited)
					handler(w, r)
				}))
				cw := &mwCheckWriter{h: http.Header{}}
				p := mwRecover(func() { h.ServeHTTP(cw, httptest.NewRequest(http.MethodGet, "/", nil)) })
				cw.closed.Store(true)
				<-exited
				if p != nil && p != http.ErrAbortHandler {
					t.Fatalf("ServeHTTP panicked with %v; want nothing or http.ErrAbortHandler", p)
				}
				if p == nil && cw.status != http.StatusGatewayTimeout {
					t.Fatalf("ServeHTTP returned normally with status %d; want 504", cw.status)
				}
				if cw.concurrent.Load() || cw.afterClose.Load() {
					t.Fatalf("writer used concurrently = %v, after ServeHTTP returned = %v; want neither", cw.concurrent.Load(), cw.afterClose.Load())
				}
			}
		})
	}
}

func TestTimeoutPanicReachesCaller(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	tests := []struct {
		name  string
		value any
	}{
		{"string", "boom"},
		{"error", errBoom},
		{"abort", http.ErrAbortHandler},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := guard.Timeout(time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				panic(tc.value)
			}))
			_, p := mwServe(h, httptest.NewRequest(http.MethodGet, "/", nil))
			if p != tc.value {
				t.Errorf("ServeHTTP panicked with %v; want the handler's %v", p, tc.value)
			}
		})
	}
}

func TestTimeoutPanicOverNetworkDoesNotCrash(t *testing.T) {
	t.Parallel()
	var errLog mwBuffer
	h := guard.Timeout(time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom in handler")
		}
		io.WriteString(w, "fine")
	}))
	srv := mwServer(t, h, false, &errLog)
	if resp, err := srv.Client().Get(srv.URL + "/panic"); err == nil {
		resp.Body.Close()
		t.Fatalf("GET /panic succeeded with %d; want a broken connection", resp.StatusCode)
	}
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatalf("GET / after the panic: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "fine" {
		t.Errorf("GET / after the panic = %q; want %q", body, "fine")
	}
	if !strings.Contains(errLog.String(), "boom in handler") {
		t.Errorf("server log = %q; want the panic logged by net/http", errLog.String())
	}
}

// mwBuffer is a bytes.Buffer safe for concurrent use that signals each
// write on written (if non-nil).
type mwBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{}
}

func (s *mwBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if s.written != nil {
		select {
		case s.written <- struct{}{}:
		default:
		}
	}
	return n, err
}

func (s *mwBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestTimeoutLatePanicIsLogged(t *testing.T) {
	t.Parallel()
	logs := &mwBuffer{written: make(chan struct{}, 1)}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	entered, release, exited := make(chan struct{}), make(chan struct{}), make(chan struct{})
	h := guard.Timeout(20*time.Millisecond, guard.WithLogger(logger))(mwBlocked(entered, release, exited,
		func(http.ResponseWriter, *http.Request) { panic("late boom") }))
	rec, p := mwServe(h, httptest.NewRequest(http.MethodGet, "/", nil))
	if p != nil || rec.Code != http.StatusGatewayTimeout {
		t.Fatalf("Timeout = %d, panic %v; want 504, no panic", rec.Code, p)
	}
	<-entered
	close(release)
	<-logs.written
	<-exited
	if out := logs.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "late boom") || !strings.Contains(out, "stack=") {
		t.Errorf("log = %q; want an error record with the panic value and stack", out)
	}
}

func TestTimeoutStreamsServerSentEvents(t *testing.T) {
	t.Parallel()
	const events = 3
	ack := make(chan struct{})
	h := guard.Timeout(time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range events {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush through Timeout: %v", err)
				return
			}
			select {
			case <-ack: // the client saw event i before event i+1 is written
			case <-r.Context().Done():
				return
			}
		}
	}))
	srv := mwServer(t, h, false, nil)
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q; want text/event-stream", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	for i := range events {
		if !sc.Scan() {
			t.Fatalf("event %d: stream ended: %v", i, sc.Err())
		}
		if got, want := sc.Text(), fmt.Sprintf("data: %d", i); got != want {
			t.Fatalf("event %d = %q; want %q", i, got, want)
		}
		sc.Scan() // the blank line ending the event
		ack <- struct{}{}
	}
}

func TestTimeoutResponseController(t *testing.T) {
	t.Parallel()
	t.Run("recorder", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		var flushErr, deadlineErr error
		var unwrapped http.ResponseWriter
		h := guard.Timeout(time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			flushErr = rc.Flush()
			deadlineErr = rc.SetWriteDeadline(time.Now().Add(time.Second))
			if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
				unwrapped = u.Unwrap()
			}
		}))
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if flushErr != nil || !rec.Flushed {
			t.Errorf("Flush = %v, recorder flushed = %v; want nil, true", flushErr, rec.Flushed)
		}
		if !errors.Is(deadlineErr, http.ErrNotSupported) {
			t.Errorf("SetWriteDeadline on a recorder = %v; want http.ErrNotSupported", deadlineErr)
		}
		if unwrapped != rec {
			t.Errorf("Unwrap() = %v; want the recorder", unwrapped)
		}
	})
	t.Run("server", func(t *testing.T) {
		t.Parallel()
		var errs [4]error
		h := guard.Timeout(time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			errs[0] = rc.SetReadDeadline(time.Now().Add(time.Minute))
			errs[1] = rc.SetWriteDeadline(time.Now().Add(time.Minute))
			errs[2] = rc.EnableFullDuplex()
			io.WriteString(w, "ok")
			errs[3] = rc.Flush()
		}))
		srv := mwServer(t, h, false, nil)
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		for i, name := range []string{"SetReadDeadline", "SetWriteDeadline", "EnableFullDuplex", "Flush"} {
			if errs[i] != nil {
				t.Errorf("%s through Timeout = %v; want nil", name, errs[i])
			}
		}
	})
	t.Run("hijack", func(t *testing.T) {
		t.Parallel()
		h := guard.Timeout(time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("Hijack through Timeout: %v", err)
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
			brw.Flush()
		}))
		srv := mwServer(t, h, false, nil)
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hijacked" {
			t.Errorf("body = %q; want %q", body, "hijacked")
		}
	})
}

func TestTimeoutTrailers(t *testing.T) {
	t.Parallel()
	h := guard.Timeout(time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
		w.Header().Set(http.TrailerPrefix+"X-Undeclared", "def")
	}))
	srv := mwServer(t, h, false, nil)
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := resp.Trailer.Get("X-Checksum"); got != "abc" {
		t.Errorf("trailer X-Checksum = %q; want %q", got, "abc")
	}
	if got := resp.Trailer.Get("X-Undeclared"); got != "def" {
		t.Errorf("trailer X-Undeclared = %q; want %q", got, "def")
	}
}

func TestTimeoutExpiredMetric(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	// Every deadline here is one the test expires: with a real short
	// timeout, a handler scheduled late would turn the in-time request into
	// a 504.
	timeout := guard.Timeout(time.Hour, guard.WithMeterProvider(mp))

	// Before the response: a 504.
	before := newMWExpirable(context.Background())
	before.expire()
	h := timeout(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	mwServe(h, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(before))
	// After the response started: an abort.
	for range 2 {
		ctx := newMWExpirable(context.Background())
		release, exited := make(chan struct{}), make(chan struct{})
		h = timeout(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer close(exited)
			io.WriteString(w, "x")
			ctx.expire()
			<-release // a handler returning now would complete its response
		}))
		mwServe(h, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
		close(release)
		<-exited
	}
	// In time: not counted.
	mwServe(timeout(http.NotFoundHandler()), httptest.NewRequest(http.MethodGet, "/", nil))

	for phase, want := range map[string]int64{"before_response": 1, "after_response": 2} {
		if got := mwCounter(t, reader, "chassis.timeout.expired", "chassis.phase", phase); got != want {
			t.Errorf("chassis.timeout.expired{chassis.phase=%s} = %d; want %d", phase, got, want)
		}
	}
}

// mwDiscard is a ResponseWriter that throws the response away, as fast
// as possible.
type mwDiscard struct{ h http.Header }

func (d *mwDiscard) Header() http.Header         { return d.h }
func (d *mwDiscard) WriteHeader(int)             {}
func (d *mwDiscard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkTimeoutStream streams 64 MiB in 32 KiB writes through Timeout
// and through http.TimeoutHandler, which buffers the whole response.
func BenchmarkTimeoutStream(b *testing.B) {
	const size, chunk = 64 << 20, 32 << 10
	buf := make([]byte, chunk)
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range size / chunk {
			if _, err := w.Write(buf); err != nil {
				panic(err)
			}
		}
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"guard.Timeout", guard.Timeout(time.Minute)(stream)},
		{"http.TimeoutHandler", http.TimeoutHandler(stream, time.Minute, "")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(&mwDiscard{h: http.Header{}}, req)
			}
		})
	}
}

// BenchmarkTimeoutSmall measures the fixed cost per request of Timeout and,
// for comparison, of http.TimeoutHandler.
func BenchmarkTimeoutSmall(b *testing.B) {
	small := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})
	for _, bc := range []struct {
		name    string
		h       http.Handler
		reqmeta bool // the request carries the metadata outer chassis middleware add
	}{
		{"guard.Timeout", guard.Timeout(time.Minute)(small), false},
		{"guard.Timeout/in-stack", guard.Timeout(time.Minute)(small), true},
		{"http.TimeoutHandler", http.TimeoutHandler(small, time.Minute, ""), false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if bc.reqmeta {
				req, _ = reqmeta.Ensure(req)
			}
			w := &mwDiscard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}
