package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/admin"
)

// gzipMagic starts every profile in protobuf form.
var gzipMagic = []byte{0x1f, 0x8b}

func TestPprof(t *testing.T) {
	a, _ := newAdmin(t, admin.Config{})
	pc := reflect.ValueOf(TestPprof).Pointer()
	tests := []struct {
		method, target string
		code           int
		check          func(body []byte) bool
		want           string
	}{
		{"GET", "/debug/pprof/", 200, contains("goroutine?debug=1", "heap", "profile?seconds=30"), "index links"},
		{"GET", "/debug/pprof/goroutine?debug=1", 200, contains("goroutine profile: total"), "text goroutine profile"},
		{"GET", "/debug/pprof/goroutine?debug=2", 200, contains("goroutine ", "[running]"), "panic-style dump"},
		{"GET", "/debug/pprof/heap?gc=1", 200, prefix(gzipMagic), "gzipped heap profile"},
		{"GET", "/debug/pprof/allocs", 200, prefix(gzipMagic), "gzipped allocs profile"},
		{"GET", "/debug/pprof/nope", 404, contains(`"status":404`), "problem"},
		{"GET", "/debug/pprof/heap?seconds=5", 400, contains("go tool pprof -base"), "problem"},
		{"GET", "/debug/pprof/heap?debug=x", 400, contains("debug must be"), "problem"},
		{"GET", "/debug/pprof/profile?seconds=0", 400, contains("seconds must be"), "problem"},
		{"GET", "/debug/pprof/profile?seconds=x", 400, contains("seconds must be"), "problem"},
		{"GET", "/debug/pprof/trace?seconds=100000", 400, contains("seconds must be"), "problem"},
		{"GET", "/debug/pprof/cmdline", 200, func(b []byte) bool { return len(b) > 0 }, "the command line"},
		{"GET", "/debug/pprof/symbol", 200, contains("num_symbols: 1"), "symbol support"},
		{"GET", fmt.Sprintf("/debug/pprof/symbol?%#x", pc), 200, contains("admin_test.TestPprof"), "the symbol of a pc"},
		{"POST", "/debug/pprof/symbol", 200, contains("num_symbols: 1"), "symbol support"},
		{"POST", "/debug/pprof/heap", 405, contains(`"status":405`), "problem"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			w := do(a, tc.method, tc.target, "")
			if w.Code != tc.code || !tc.check(w.Body.Bytes()) {
				t.Errorf("%s %s = %d %.300q; want %d with %s", tc.method, tc.target, w.Code, w.Body, tc.code, tc.want)
			}
		})
	}
}

// TestPprofStreamsEndWithTheClient runs the CPU profile and the trace with
// a client that is already gone: each returns at once with a valid stream.
func TestPprofStreamsEndWithTheClient(t *testing.T) {
	a, _ := newAdmin(t, admin.Config{})
	for _, target := range []string{"/debug/pprof/profile?seconds=600", "/debug/pprof/trace?seconds=600"} {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r := httptest.NewRequestWithContext(ctx, "GET", target, nil)
		r.Host = "127.0.0.1"
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Body.Len() == 0 {
			t.Errorf("GET %s with a gone client = %d, %d bytes; want 200 with a stream", target, w.Code, w.Body.Len())
		}
		if strings.Contains(target, "profile") && !bytes.HasPrefix(w.Body.Bytes(), gzipMagic) {
			t.Errorf("GET %s: body is not a gzipped profile", target)
		}
	}
}

func contains(subs ...string) func([]byte) bool {
	return func(b []byte) bool {
		for _, s := range subs {
			if !bytes.Contains(b, []byte(s)) {
				return false
			}
		}
		return true
	}
}

func prefix(p []byte) func([]byte) bool {
	return func(b []byte) bool { return bytes.HasPrefix(b, p) }
}
