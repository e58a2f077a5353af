package guard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/internal/panicval"
	"github.com/chassis-go/chassis/internal/reqmeta"
)

// mwStalledReader is a source whose Read blocks until the test closes the
// pipe, like a subprocess or an upstream that produces nothing. reading is
// closed when the first Read has started.
type mwStalledReader struct {
	pr      *io.PipeReader
	reading chan struct{}
	once    sync.Once
}

func (s *mwStalledReader) Read(p []byte) (int, error) {
	s.once.Do(func() { close(s.reading) })
	return s.pr.Read(p)
}

// TestTimeoutReadFromStalledSource: a handler stuck in io.Copy(w, src)
// reading a source that never produces must not keep Timeout from
// answering at the deadline: a 504 when nothing was sent, an abort when the
// response had started.
func TestTimeoutReadFromStalledSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		before    string // written before the copy
		wantPanic any
		wantCode  int
	}{
		{"nothing sent", "", nil, http.StatusGatewayTimeout},
		{"partial response sent", "partial", http.ErrAbortHandler, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pr, pw := io.Pipe()
			src := &mwStalledReader{pr: pr, reading: make(chan struct{})}
			exited := make(chan struct{})
			var copyErr error
			h := guard.Timeout(time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(exited)
				if tc.before != "" {
					io.WriteString(w, tc.before)
				}
				if _, ok := w.(io.ReaderFrom); !ok {
					panic("the writer Timeout gives the handler has no ReadFrom")
				}
				_, copyErr = io.Copy(w, src)
			}))
			ctx := newMWExpirable(context.Background())
			done := make(chan struct{})
			var rec *httptest.ResponseRecorder
			var p any
			go func() {
				defer close(done)
				rec, p = mwServe(h, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
			}()
			<-src.reading
			ctx.expire() // the deadline passes while the handler waits for its source
			<-done       // before the fix: never, the copy held the writer
			pw.Write([]byte("late"))
			pw.Close()
			<-exited
			if p != tc.wantPanic || rec.Code != tc.wantCode {
				t.Errorf("Timeout = %d, panic %v; want %d, panic %v", rec.Code, p, tc.wantCode, tc.wantPanic)
			}
			if strings.Contains(rec.Body.String(), "late") {
				t.Errorf("body %q has what the source produced after the deadline", rec.Body)
			}
			if !errors.Is(copyErr, http.ErrHandlerTimeout) {
				t.Errorf("io.Copy after the deadline = %v; want http.ErrHandlerTimeout", copyErr)
			}
		})
	}
}

// mwRawHTTP10 sends a GET as an HTTP/1.0 client to srv over a plain TCP
// connection and reads the response until the connection ends. It returns
// what it read and the error that ended the read (nil for a clean end of
// file, which is how an HTTP/1.0 client learns that a body without
// Content-Length is complete).
func mwRawHTTP10(t *testing.T, srv *httptest.Server) (string, error) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatalf("write request: %v", err)
	}
	b, err := io.ReadAll(bufio.NewReader(conn))
	return string(b), err
}

// TestTimeoutAbortHTTP10: an aborted response to an HTTP/1.0 client has a
// body delimited by the end of the connection, so an orderly close would
// make the partial body look complete; the client must see an error.
func TestTimeoutAbortHTTP10(t *testing.T) {
	t.Parallel()
	srv, release := mwAbortServer(t, false)
	got, err := mwRawHTTP10(t, srv)
	release()
	if err == nil {
		t.Errorf("HTTP/1.0 read of an aborted response ended cleanly after %q; want an error (a connection reset)", got)
	}
	if got != "" && !strings.HasPrefix(got, "HTTP/1.0 200") {
		t.Errorf("response %q; want a 200 status line before the abort", got)
	}
}

// TestTimeoutLatePanicBounded: the value of a panic after the deadline is
// logged as bounded text, and a value that contains itself does not crash
// the process by recursing.
func TestTimeoutLatePanicBounded(t *testing.T) {
	t.Parallel()
	self := map[string]any{}
	self["self"] = self
	tests := []struct {
		name  string
		value any
		want  string // a prefix of the logged panic text
	}{
		{"10 MB string", strings.Repeat("x", 10<<20), "xxxx"},
		{"self-referencing map", self, "(map[string]interface {})"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := &mwBuffer{written: make(chan struct{}, 1)}
			logger := slog.New(slog.NewJSONHandler(logs, nil))
			release, exited := make(chan struct{}), make(chan struct{})
			h := guard.Timeout(time.Hour, guard.WithLogger(logger))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(exited)
				<-release
				panic(tc.value)
			}))
			// The deadline has passed: Timeout answers 504 and leaves the
			// handler behind.
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel()
			rec, p := mwServe(h, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
			if p != nil || rec.Code != http.StatusGatewayTimeout {
				t.Fatalf("Timeout = %d, panic %v; want 504, no panic", rec.Code, p)
			}
			close(release)
			<-logs.written
			<-exited
			var rec2 struct {
				Panic string `json:"panic"`
			}
			out := logs.String()
			if err := json.Unmarshal([]byte(out), &rec2); err != nil {
				t.Fatalf("log %.200q is not one JSON record: %v", out, err)
			}
			if len(rec2.Panic) > panicval.MaxLen+32 || !strings.HasPrefix(rec2.Panic, tc.want) {
				t.Errorf("logged panic = %.80q… (%d bytes); want at most about %d bytes starting %q",
					rec2.Panic, len(rec2.Panic), panicval.MaxLen, tc.want)
			}
			if len(out) > 64<<10 {
				t.Errorf("log record is %d bytes; want it bounded", len(out))
			}
		})
	}
}

// TestNilOptions: a nil option is ignored, and a nil value given to an
// option means the default (the global MeterProvider, slog.Default(),
// time.Now), exactly as if the option were absent.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	var nilOption guard.Option
	var nilTimeout guard.TimeoutOption
	var nilMaxBody guard.MaxBodyOption
	var nilMemory guard.MemoryOption
	tests := []struct {
		name string
		h    func() http.Handler
	}{
		{"Timeout nil options", func() http.Handler { return guard.Timeout(time.Minute, nilTimeout, nilOption)(ok) }},
		{"Timeout nil values", func() http.Handler {
			return guard.Timeout(time.Minute, guard.WithLogger(nil), guard.WithMeterProvider(nil))(ok)
		}},
		{"MaxBody nil options", func() http.Handler { return guard.MaxBody(8, nilMaxBody, nilOption)(ok) }},
		{"MaxBody nil values", func() http.Handler { return guard.MaxBody(8, guard.WithMeterProvider(nil))(ok) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h http.Handler
			if p := mwRecover(func() { h = tc.h() }); p != nil {
				t.Fatalf("construction panicked: %v", p)
			}
			rec, p := mwServe(h, httptest.NewRequest(http.MethodGet, "/", nil))
			if p != nil || rec.Code != http.StatusOK || rec.Body.String() != "ok" {
				t.Errorf("response %d %q, panic %v; want 200 %q", rec.Code, rec.Body, p, "ok")
			}
		})
	}
	for name, opts := range map[string][]guard.MemoryOption{
		"NewMemoryLimiter nil options": {nilMemory, nilOption},
		"NewMemoryLimiter nil values":  {guard.WithClock(nil), guard.WithMeterProvider(nil)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var m *guard.MemoryLimiter
			if p := mwRecover(func() { m = guard.NewMemoryLimiter(guard.PerSecond(1), opts...) }); p != nil {
				t.Fatalf("NewMemoryLimiter panicked: %v", p)
			}
			for i, want := range []bool{true, false} {
				d, err := m.Allow(context.Background(), "k")
				if err != nil || d.Allowed != want {
					t.Errorf("Allow #%d = %v, %v; want allowed %v (the default clock)", i+1, d.Allowed, err, want)
				}
			}
		})
	}
}

// TestTimeoutPublishesRoute: the route a ServeMux inside Timeout matched
// reaches the middleware outside through the request metadata, and the
// caller's request is not modified.
func TestTimeoutPublishesRoute(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	h := guard.Timeout(time.Minute)(mux)
	r, info := reqmeta.Ensure(httptest.NewRequest(http.MethodGet, "/users/7", nil))
	rec, p := mwServe(h, r)
	if p != nil || rec.Code != http.StatusOK {
		t.Fatalf("Timeout = %d, panic %v; want 200", rec.Code, p)
	}
	if got := info.Pattern(r); got != "GET /users/{id}" {
		t.Errorf("published route = %q; want %q", got, "GET /users/{id}")
	}
	if r.Pattern != "" {
		t.Errorf("caller's r.Pattern = %q; want it untouched", r.Pattern)
	}
}

// TestTimeoutCompleteResponseNotAborted: a handler that has written all of
// its declared Content-Length when the deadline passes has sent a complete
// response; Timeout must not abort it (nor report a panic).
func TestTimeoutCompleteResponseNotAborted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		length    string
		wantPanic any
	}{
		{"all declared bytes written", "8", nil},
		{"fewer bytes than declared", "9", http.ErrAbortHandler},
		{"no length declared", "", http.ErrAbortHandler},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			release, exited := make(chan struct{}), make(chan struct{})
			ctx := newMWExpirable(context.Background())
			var lateErr error
			h := guard.Timeout(time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(exited)
				if tc.length != "" {
					w.Header().Set("Content-Length", tc.length)
				}
				io.WriteString(w, "complete")
				ctx.expire() // the deadline passes before the handler returns
				<-release
				_, lateErr = io.WriteString(w, "more")
			}))
			rec, p := mwServe(h, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
			close(release)
			<-exited
			if p != tc.wantPanic || rec.Code != http.StatusOK || rec.Body.String() != "complete" {
				t.Errorf("Timeout = %d %q, panic %v; want 200 %q, panic %v", rec.Code, rec.Body, p, "complete", tc.wantPanic)
			}
			if !errors.Is(lateErr, http.ErrHandlerTimeout) {
				t.Errorf("Write after the deadline = %v; want http.ErrHandlerTimeout", lateErr)
			}
		})
	}
}
