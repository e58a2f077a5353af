package idempotency_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/idempotency"
	"github.com/chassis-go/chassis/problem"
)

// step is one request of a scenario and what the client must see.
type step struct {
	method, path, key, client, body string
	noKey                           bool
	status                          int
	replayed                        bool
	wantBody                        string // checked when non-empty
	location                        string // checked on replays
}

// app echoes the body it reads with 201, unless the X-Status request header
// asks for another status; it counts its calls.
type app struct{ calls atomic.Int64 }

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.calls.Add(1)
	b, _ := io.ReadAll(r.Body)
	status := http.StatusCreated
	if s := r.Header.Get("X-Status"); s != "" {
		status, _ = strconv.Atoi(s)
	}
	w.Header().Set("Location", "/things/"+strconv.FormatInt(n, 10))
	w.Header().Set("X-Not-Stored", "x")
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func clientHeader(r *http.Request) (string, error) {
	c := r.Header.Get("X-Client")
	if c == "" {
		return "", errors.New("no client")
	}
	if c == "forbidden" {
		return "", problem.Forbidden("go away")
	}
	return c, nil
}

func newReq(s step) *http.Request {
	method, path, client := s.method, s.path, s.client
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = "/pay"
	}
	if client == "" {
		client = "alice"
	}
	r := httptest.NewRequest(method, path, strings.NewReader(s.body))
	if !s.noKey {
		r.Header.Set(idempotency.Header, s.key)
	}
	r.Header.Set("X-Client", client)
	return r
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100)
	tests := []struct {
		name      string
		cfg       idempotency.Config
		statusHdr string
		steps     []step
		calls     int64
	}{
		{"replay", idempotency.Config{}, "", []step{
			{key: "k1", body: "a", status: 201, wantBody: "a"},
			{key: "k1", body: "a", status: 201, replayed: true, wantBody: "a"},
			{key: `"k1"`, body: "a", status: 201, replayed: true}, // sf-string form of the same key
		}, 1},
		{"different body", idempotency.Config{}, "", []step{
			{key: "k1", body: "a", status: 201},
			{key: "k1", body: "b", status: 422},
		}, 1},
		{"different clients", idempotency.Config{}, "", []step{
			{key: "k1", body: "a", status: 201},
			{key: "k1", body: "a", client: "bob", status: 201},
		}, 2},
		{"different routes", idempotency.Config{}, "", []step{
			{key: "k1", body: "a", status: 201},
			{key: "k1", body: "a", path: "/refund", status: 201},
		}, 2},
		{"different methods", idempotency.Config{}, "", []step{
			{key: "k1", body: "a", status: 201},
			{key: "k1", body: "a", method: http.MethodPatch, status: 201},
			{key: "k1", body: "a", method: http.MethodPatch, status: 201, replayed: true, location: "/things/2"},
		}, 2},
		{"other methods pass", idempotency.Config{}, "", []step{
			{key: "k1", method: http.MethodPut, body: "a", status: 201},
			{key: "k1", method: http.MethodPut, body: "a", status: 201},
		}, 2},
		{"configured methods", idempotency.Config{Methods: []string{http.MethodPut}}, "", []step{
			{key: "k1", method: http.MethodPut, body: "a", status: 201},
			{key: "k1", method: http.MethodPut, body: "a", status: 201, replayed: true},
			{key: "k1", body: "a", status: 201},
		}, 2},
		{"no key", idempotency.Config{}, "", []step{
			{noKey: true, body: "a", status: 201},
			{noKey: true, body: "a", status: 201},
		}, 2},
		{"no key required", idempotency.Config{Required: true}, "", []step{
			{noKey: true, body: "a", status: 400},
		}, 0},
		{"malformed key", idempotency.Config{}, "", []step{
			{key: "has space", status: 400},
			{key: `"unterminated`, status: 400},
			{key: strings.Repeat("k", 256), status: 400},
			{key: `""`, status: 400},
		}, 0},
		{"unidentified client", idempotency.Config{}, "", []step{
			{key: "k1", client: "", status: 201}, // newReq defaults to alice
			{key: "k1", client: "forbidden", status: 403},
		}, 1},
		{"5xx not stored", idempotency.Config{}, "503", []step{
			{key: "k1", body: "a", status: 503},
			{key: "k1", body: "a", status: 503},
		}, 2},
		{"429 not stored", idempotency.Config{}, "429", []step{
			{key: "k1", body: "a", status: 429},
			{key: "k1", body: "a", status: 429},
		}, 2},
		{"4xx stored", idempotency.Config{}, "404", []step{
			{key: "k1", body: "a", status: 404},
			{key: "k1", body: "a", status: 404, replayed: true},
		}, 1},
		{"response over cap not stored", idempotency.Config{MaxResponse: 10}, "", []step{
			{key: "k1", body: long, status: 201, wantBody: long},
			{key: "k1", body: long, status: 201, wantBody: long},
		}, 2},
		{"request over cap", idempotency.Config{MaxBody: 10}, "", []step{
			{key: "k1", body: long, status: 413},
			{key: "k2", body: "0123456789", status: 201},
		}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &app{}
			cfg := tc.cfg
			cfg.Store = idempotency.NewMemoryStore()
			cfg.Key = clientHeader
			h := idempotency.Middleware(cfg)(a)
			for i, s := range tc.steps {
				r := newReq(s)
				if tc.statusHdr != "" {
					r.Header.Set("X-Status", tc.statusHdr)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != s.status {
					t.Fatalf("step %d: status = %d; want %d (body %s)", i, w.Code, s.status, w.Body)
				}
				if got := w.Header().Get(idempotency.ReplayedHeader) == "true"; got != s.replayed {
					t.Errorf("step %d: replayed = %v; want %v", i, got, s.replayed)
				}
				if s.wantBody != "" && w.Body.String() != s.wantBody {
					t.Errorf("step %d: body = %q; want %q", i, w.Body, s.wantBody)
				}
				if w.Code >= 400 && w.Code != 404 && w.Code != 429 && w.Code != 503 {
					if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
						t.Errorf("step %d: Content-Type = %q; want %q", i, ct, problem.ContentType)
					}
				}
				if s.replayed {
					loc := s.location
					if loc == "" {
						loc = "/things/1"
					}
					if got := w.Header().Get("Location"); got != loc {
						t.Errorf("step %d: replayed Location = %q; want %s", i, got, loc)
					}
					if got := w.Header().Get("X-Not-Stored"); got != "" {
						t.Errorf("step %d: replayed X-Not-Stored = %q; want it absent (not allowlisted)", i, got)
					}
				}
			}
			if got := a.calls.Load(); got != tc.calls {
				t.Errorf("handler calls = %d; want %d", got, tc.calls)
			}
		})
	}
}

// TestInFlight sends a duplicate while the first request is inside the
// handler: 409 with Retry-After; once the first ends, the duplicate replays.
func TestInFlight(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	h := idempotency.Middleware(idempotency.Config{
		Store: idempotency.NewMemoryStore(), Key: clientHeader, RetryAfter: 1500 * time.Millisecond,
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		close(entered)
		<-release
		w.WriteHeader(http.StatusAccepted)
	}))
	done := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, newReq(step{key: "k", body: "x"}))
		done <- w.Code
	}()
	<-entered
	w := httptest.NewRecorder()
	h.ServeHTTP(w, newReq(step{key: "k", body: "x"}))
	if w.Code != http.StatusConflict || w.Header().Get("Retry-After") != "2" {
		t.Errorf("duplicate in flight: status %d, Retry-After %q; want 409, 2", w.Code, w.Header().Get("Retry-After"))
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, newReq(step{key: "k", body: "other"}))
	if w.Code != http.StatusUnprocessableEntity {
		t.Errorf("different body in flight: status %d; want 422", w.Code)
	}
	close(release)
	if code := <-done; code != http.StatusAccepted {
		t.Errorf("first request: status %d; want 202", code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, newReq(step{key: "k", body: "x"}))
	if w.Code != http.StatusAccepted || w.Header().Get(idempotency.ReplayedHeader) != "true" {
		t.Errorf("after completion: status %d, replayed %q; want 202, true", w.Code, w.Header().Get(idempotency.ReplayedHeader))
	}
	if calls.Load() != 1 {
		t.Errorf("handler calls = %d; want 1", calls.Load())
	}
}

// TestPanicReleases checks a panicking handler propagates its panic and
// leaves the key free for the retry.
func TestPanicReleases(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	h := idempotency.Middleware(idempotency.Config{Store: idempotency.NewMemoryStore(), Key: clientHeader})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				panic(http.ErrAbortHandler)
			}
			w.WriteHeader(http.StatusCreated)
		}))
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v; want http.ErrAbortHandler", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), newReq(step{key: "k"}))
	}()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, newReq(step{key: "k"}))
	if w.Code != http.StatusCreated || calls.Load() != 2 {
		t.Errorf("retry after panic: status %d, calls %d; want 201, 2", w.Code, calls.Load())
	}
}

// failStore fails every call.
type failStore struct{}

var errDown = errors.New("store down")

func (failStore) Acquire(context.Context, string, string, string, time.Duration) (idempotency.Record, bool, error) {
	return idempotency.Record{}, false, errDown
}
func (failStore) Complete(context.Context, string, string, idempotency.Record, time.Duration) error {
	return errDown
}
func (failStore) Release(context.Context, string, string) error { return errDown }

func TestStoreFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		store  idempotency.Store
		open   bool
		status int
		calls  int64
	}{
		{"closed", failStore{}, false, 503, 0},
		{"open", failStore{}, true, 201, 1},
		{"full", idempotency.NewMemoryStore(idempotency.MaxKeys(1)), true, 503, 0}, // the holder is still inside
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &app{}
			var h http.Handler = a
			if _, full := tc.store.(*idempotency.MemoryStore); full {
				// Hold the only slot with a request in flight.
				entered, release := make(chan struct{}), make(chan struct{})
				h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get(idempotency.Header) == "holder" {
						close(entered)
						<-release
					}
					a.ServeHTTP(w, r)
				})
				mw := idempotency.Middleware(idempotency.Config{Store: tc.store, Key: clientHeader, FailOpen: tc.open})(h)
				done := make(chan struct{})
				go func() { mw.ServeHTTP(httptest.NewRecorder(), newReq(step{key: "holder"})); close(done) }()
				<-entered
				defer func() { close(release); <-done }()
				h = mw
			} else {
				h = idempotency.Middleware(idempotency.Config{Store: tc.store, Key: clientHeader, FailOpen: tc.open, Logger: discard()})(h)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, newReq(step{key: "k", body: "b"}))
			if w.Code != tc.status {
				t.Errorf("status = %d; want %d", w.Code, tc.status)
			}
			if tc.status == 503 && w.Header().Get("Retry-After") != "1" {
				t.Errorf("Retry-After = %q; want 1", w.Header().Get("Retry-After"))
			}
			if got := a.calls.Load(); got != tc.calls {
				t.Errorf("handler calls = %d; want %d", got, tc.calls)
			}
		})
	}
}

// TestWriterInterfaces checks Flush and Unwrap survive the recording writer
// and a flushed response is still stored.
func TestWriterInterfaces(t *testing.T) {
	t.Parallel()
	var flushErr error
	h := idempotency.Middleware(idempotency.Config{Store: idempotency.NewMemoryStore(), Key: clientHeader})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "part1 ")
			flushErr = http.NewResponseController(w).Flush()
			_, _ = io.WriteString(w, "part2")
		}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, newReq(step{key: "k"}))
	if flushErr != nil || !w.Flushed {
		t.Fatalf("Flush through the middleware: err %v, flushed %v; want nil, true", flushErr, w.Flushed)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, newReq(step{key: "k"}))
	if w.Body.String() != "part1 part2" || w.Code != 200 {
		t.Errorf("replay = %d %q; want 200 \"part1 part2\"", w.Code, w.Body)
	}
}

// TestPatternScope mounts the middleware per route: the scope is the
// pattern, so two paths of one route share keys.
func TestPatternScope(t *testing.T) {
	t.Parallel()
	a := &app{}
	mw := idempotency.Middleware(idempotency.Config{Store: idempotency.NewMemoryStore(), Key: clientHeader})
	mux := http.NewServeMux()
	mux.Handle("POST /orders/{id}/pay", mw(a))
	mux.Handle("POST /orders/{id}/refund", mw(a))
	for _, tc := range []struct {
		path     string
		replayed bool
	}{{"/orders/1/pay", false}, {"/orders/2/pay", true}, {"/orders/1/refund", false}} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, newReq(step{key: "k", path: tc.path, body: "x"}))
		if got := w.Header().Get(idempotency.ReplayedHeader) == "true"; got != tc.replayed {
			t.Errorf("POST %s: replayed = %v; want %v", tc.path, got, tc.replayed)
		}
	}
}

func TestConfigPanics(t *testing.T) {
	t.Parallel()
	store := idempotency.NewMemoryStore()
	tests := []struct {
		name string
		cfg  idempotency.Config
		want string
	}{
		{"no store", idempotency.Config{Key: clientHeader}, "idempotency.Middleware: cfg.Store is nil"},
		{"no key", idempotency.Config{Store: store}, "idempotency.Middleware: cfg.Key is nil"},
		{"negative ttl", idempotency.Config{Store: store, Key: clientHeader, LockTTL: -1}, "cfg.LockTTL is negative"},
		{"negative body", idempotency.Config{Store: store, Key: clientHeader, MaxBody: -1}, "cfg.MaxBody is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if v, _ := recover().(string); !strings.Contains(v, tc.want) {
					t.Errorf("panic = %q; want it to contain %q", v, tc.want)
				}
			}()
			idempotency.Middleware(tc.cfg)
		})
	}
}

// hijackWriter is a ResponseWriter whose connection can be hijacked.
type hijackWriter struct {
	*httptest.ResponseRecorder
	conns []net.Conn
}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	a, b := net.Pipe()
	w.conns = append(w.conns, a, b)
	return a, bufio.NewReadWriter(bufio.NewReader(a), bufio.NewWriter(a)), nil
}

// TestHijackReleases checks a hijacked response is not stored: the retry
// runs the handler again.
func TestHijackReleases(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	h := idempotency.Middleware(idempotency.Config{Store: idempotency.NewMemoryStore(), Key: clientHeader})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			if _, _, err := http.NewResponseController(w).Hijack(); err != nil {
				t.Errorf("Hijack through the middleware: %v", err)
			}
		}))
	for range 2 {
		w := &hijackWriter{ResponseRecorder: httptest.NewRecorder()}
		h.ServeHTTP(w, newReq(step{key: "k"}))
		for _, c := range w.conns {
			_ = c.Close()
		}
	}
	if calls.Load() != 2 {
		t.Errorf("handler calls = %d; want 2 (a hijacked response is not replayable)", calls.Load())
	}
}
