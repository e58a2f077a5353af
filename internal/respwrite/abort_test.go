package respwrite

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCloseDelimited(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		major, minor int
		header       http.Header
		want         bool
	}{
		{"HTTP/1.0 without length", 1, 0, http.Header{}, true},
		{"HTTP/1.0 with length", 1, 0, http.Header{"Content-Length": {"10"}}, false},
		{"HTTP/1.1 chunked", 1, 1, http.Header{}, false},
		{"HTTP/1.1 identity", 1, 1, http.Header{"Transfer-Encoding": {" Identity "}}, true},
		{"HTTP/1.1 identity with length", 1, 1, http.Header{"Transfer-Encoding": {"identity"}, "Content-Length": {"3"}}, false},
		{"HTTP/2", 2, 0, http.Header{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := &http.Request{ProtoMajor: tc.major, ProtoMinor: tc.minor}
			if got := closeDelimited(r, tc.header); got != tc.want {
				t.Errorf("closeDelimited = %v; want %v", got, tc.want)
			}
		})
	}
}

// TestAbortWithoutHijack: a writer that cannot be hijacked still gets the
// ErrAbortHandler panic, and nothing is written.
func TestAbortWithoutHijack(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.ProtoMajor, r.ProtoMinor = 1, 0
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Errorf("Abort panicked with %v; want http.ErrAbortHandler", p)
		}
		if rec.Body.Len() != 0 {
			t.Errorf("Abort wrote %q; want nothing", rec.Body)
		}
	}()
	Abort(rec, r)
}

// TestAbortTLS: over TLS, the connection of an aborted close-delimited body
// ends without the close_notify alert that would mark the data complete.
func TestAbortTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		_ = http.NewResponseController(w).Flush()
		Abort(w, r)
	}))
	srv.StartTLS()
	defer srv.Close()
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test server
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(conn)
	if err == nil {
		t.Errorf("TLS HTTP/1.0 read of an aborted response ended cleanly after %q; want an error", got)
	}
}
