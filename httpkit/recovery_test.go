package httpkit_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/httpkit"
)

func TestRecoveryBeforeWrite(t *testing.T) {
	t.Parallel()
	c := &capture{}
	h := httpkit.Chain(httpkit.Recovery(slog.New(c)), httpkit.RequestID)(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			panicHere()
		}))
	req := httptest.NewRequest("GET", "/x?token=s3cret", nil)
	req.Header.Set("X-Request-ID", "rid-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("response %d %q; want 500 application/problem+json", rec.Code, rec.Header().Get("Content-Type"))
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["status"] != 500.0 || body["request_id"] != "rid-1" {
		t.Errorf("body %s (%v); want a 500 problem with request_id rid-1", rec.Body, err)
	}
	if strings.Contains(rec.Body.String(), "boom") {
		t.Errorf("body %s reveals the panic value", rec.Body)
	}
	recs := c.all()
	if len(recs) != 1 {
		t.Fatalf("logged %d records; want 1", len(recs))
	}
	r := recs[0]
	if r.level != slog.LevelError || r.msg != "http handler panic" {
		t.Errorf("record %q at %v; want \"http handler panic\" at ERROR", r.msg, r.level)
	}
	if r.attrs["panic"].String() != "boom" || r.attrs["request_id"].String() != "rid-1" || r.attrs["path"].String() != "/x" {
		t.Errorf("attrs panic=%v request_id=%v path=%v; want boom, rid-1, /x", r.attrs["panic"], r.attrs["request_id"], r.attrs["path"])
	}
	if !strings.Contains(r.attrs["stack"].String(), "panicHere") {
		t.Errorf("stack does not show the panicking function:\n%s", r.attrs["stack"])
	}
}

func panicHere() { panic("boom") }

// ownWriter is another middleware's ResponseWriter wrapper, with no Unwrap.
type ownWriter struct{ http.ResponseWriter }

func wrapWriter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(ownWriter{w}, r)
	})
}

func TestRecoveryAfterWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		chain func(http.Handler) http.Handler
		write func(w http.ResponseWriter)
	}{
		{"header only", nil, func(w http.ResponseWriter) { w.WriteHeader(202) }},
		{"partial body", nil, func(w http.ResponseWriter) { _, _ = io.WriteString(w, "partial") }},
		{"flush", nil, func(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() }},
		{"through another wrapper", wrapWriter, func(w http.ResponseWriter) { _, _ = io.WriteString(w, "partial") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &capture{}
			var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.write(w)
				panic("boom")
			})
			if tc.chain != nil {
				h = tc.chain(h)
			}
			h = httpkit.Recovery(slog.New(c))(h)
			rec := httptest.NewRecorder()
			func() {
				defer func() {
					if v := recover(); v != http.ErrAbortHandler {
						t.Errorf("panic = %v; want http.ErrAbortHandler", v)
					}
				}()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			}()
			if rec.Code == 500 || strings.Contains(rec.Body.String(), "internal error") {
				t.Errorf("response %d %q; want no 500 appended to a started response", rec.Code, rec.Body)
			}
			if n := len(c.all()); n != 1 {
				t.Errorf("logged %d records; want 1", n)
			}
		})
	}
}

func TestRecoveryAbortHandler(t *testing.T) {
	t.Parallel()
	for _, v := range []error{http.ErrAbortHandler, fmt.Errorf("give up: %w", http.ErrAbortHandler)} {
		c := &capture{}
		h := httpkit.Recovery(slog.New(c))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(v) }))
		rec := httptest.NewRecorder()
		func() {
			defer func() {
				if got := recover(); got != v {
					t.Errorf("panic = %v; want %v unchanged", got, v)
				}
			}()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		}()
		if n := len(c.all()); n != 0 || rec.Body.Len() != 0 {
			t.Errorf("panic(%v): logged %d records, body %q; want nothing", v, n, rec.Body)
		}
	}
}

// hijackRecorder is a recorder whose connection can be hijacked.
type hijackRecorder struct {
	*httptest.ResponseRecorder
	conn net.Conn
}

func (h hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

func TestRecoveryHijacked(t *testing.T) {
	t.Parallel()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	c := &capture{}
	h := httpkit.Recovery(slog.New(c))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := http.NewResponseController(w).Hijack(); err != nil {
			t.Errorf("Hijack() = %v", err)
		}
		panic("boom")
	}))
	rec := hijackRecorder{httptest.NewRecorder(), c1}
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil)) // must not panic
	if rec.Body.Len() != 0 || rec.Code != 200 {
		t.Errorf("wrote %d %q after hijack; want nothing", rec.Code, rec.Body)
	}
	if n := len(c.all()); n != 1 {
		t.Errorf("logged %d records; want 1", n)
	}
}

// TestRecoveryRealServer checks what a client sees when a handler panics
// after sending part of its response: a broken response, not a 500.
func TestRecoveryRealServer(t *testing.T) {
	t.Parallel()
	c := &capture{}
	h := httpkit.Recovery(slog.New(c))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		_ = http.NewResponseController(w).Flush()
		panic("boom")
	}))
	errLog := &capture{}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = slog.NewLogLogger(errLog, slog.LevelError)
	srv.Start()
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || resp.StatusCode != 200 || string(body) != "partial" {
		t.Errorf("client got %d %q, read error %v; want 200 \"partial\" and a read error", resp.StatusCode, body, err)
	}
	if n := len(errLog.all()); n != 0 {
		t.Errorf("server error log got %d lines; want none for ErrAbortHandler", n)
	}
}

// TestRecoveryAbortHTTP10: a handler that panics after sending part of a
// response to an HTTP/1.0 client, whose body ends where the connection
// ends, must not leave the client with a body that reads as complete.
func TestRecoveryAbortHTTP10(t *testing.T) {
	t.Parallel()
	h := httpkit.Recovery(slog.New(&capture{}))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		_ = http.NewResponseController(w).Flush()
		panic("boom")
	}))
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)
	srv.Start()
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(conn)
	if err == nil {
		t.Errorf("HTTP/1.0 read of an aborted response ended cleanly after %q; want an error (a connection reset)", got)
	}
	if len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.0 200") {
		t.Errorf("response %q; want a 200 status line before the abort", got)
	}
}

// TestRecoveryPanicValueBounded: the logged panic value is bounded text, and
// a value that contains itself is named by its type instead of formatted
// recursively (which overflows the stack, a fatal error).
func TestRecoveryPanicValueBounded(t *testing.T) {
	t.Parallel()
	self := map[string]any{}
	self["self"] = self
	tests := []struct {
		name  string
		value any
		want  string // prefix of the logged text
	}{
		{"10 MB string", strings.Repeat("x", 10<<20), "xxxx"},
		{"self-referencing map", self, "(map[string]interface {})"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &capture{}
			h := httpkit.Recovery(slog.New(c))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(tc.value) }))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			recs := c.all()
			if len(recs) != 1 || rec.Code != 500 {
				t.Fatalf("logged %d records, status %d; want 1 and 500", len(recs), rec.Code)
			}
			got := recs[0].attrs["panic"].String()
			if len(got) > 2048 || !strings.HasPrefix(got, tc.want) {
				t.Errorf("logged panic = %.80q… (%d bytes); want at most about 1 KiB starting %q", got, len(got), tc.want)
			}
		})
	}
}
