package guard_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/problem"
)

// mwPermutations returns every ordering of names.
func mwPermutations(names []string) [][]string {
	if len(names) <= 1 {
		return [][]string{slices.Clone(names)}
	}
	var out [][]string
	for i, first := range names {
		rest := slices.Concat(names[:i], names[i+1:])
		for _, p := range mwPermutations(rest) {
			out = append(out, append([]string{first}, p...))
		}
	}
	return out
}

// TestMiddlewareComposition chains Timeout, MaxBody, CORS, SecurityHeaders
// and IPFilter in every one of the 120 orders and checks that each keeps its
// promise whatever surrounds it. Error responses carry the CORS and security
// headers exactly when those middlewares are mounted outside the one that
// rejected the request.
func TestMiddlewareComposition(t *testing.T) {
	t.Parallel()
	const origin = "https://app.example.com"
	middleware := map[string]func(http.Handler) http.Handler{
		"Timeout":         guard.Timeout(time.Minute),
		"MaxBody":         guard.MaxBody(16),
		"CORS":            guard.CORS(guard.CORSConfig{AllowedOrigins: []string{origin}, AllowedMethods: []string{"GET", "POST"}}),
		"SecurityHeaders": guard.SecurityHeaders(guard.DefaultSecurityHeaders()),
		"IPFilter": guard.IPFilter(guard.IPFilterConfig{
			Deny: mwPrefixes("203.0.113.0/24"), Key: mwRemoteKey, Logger: slog.New(slog.DiscardHandler),
		}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			problem.Write(w, r, problem.BadRequest("unreadable body"))
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})

	type check struct {
		name       string
		req        func() *http.Request
		status     int
		body       string // a substring; "" for no check
		rejectedBy string // the middleware that answers instead of the mux
	}
	newReq := func(method, path string, body io.Reader, chunked bool) *http.Request {
		r := httptest.NewRequest(method, path, body)
		r.Header.Set("Origin", origin)
		if chunked {
			r.ContentLength = -1
		}
		return r
	}
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	checks := []check{
		{"allowed", func() *http.Request { return newReq("GET", "/ok", nil, false) }, 200, "ok", ""},
		{"body at the limit, chunked", func() *http.Request {
			return newReq("POST", "/echo", mwUnknownLength{strings.NewReader("0123456789abcdef")}, true)
		}, 200, "0123456789abcdef", ""},
		{"body over the limit, chunked", func() *http.Request {
			return newReq("POST", "/echo", mwUnknownLength{strings.NewReader("0123456789abcdefg")}, true)
		}, 413, `"status":413`, "MaxBody"},
		{"body over the limit, declared", func() *http.Request {
			return newReq("POST", "/echo", strings.NewReader("0123456789abcdefg"), false)
		}, 413, `"status":413`, "MaxBody"},
		{"deadline passed", func() *http.Request {
			// The incoming deadline has passed: Timeout keeps the tighter.
			return newReq("GET", "/slow", nil, false).WithContext(expired)
		}, 504, `"status":504`, "Timeout"},
		{"denied network", func() *http.Request {
			r := newReq("GET", "/ok", nil, false)
			r.RemoteAddr = "203.0.113.9:5555"
			return r
		}, 403, `"status":403`, "IPFilter"},
		{"preflight", func() *http.Request {
			r := newReq("OPTIONS", "/echo", nil, false)
			r.Header.Set("Access-Control-Request-Method", "POST")
			return r
		}, 204, "", "CORS"},
	}

	names := slices.Sorted(func(yield func(string) bool) {
		for k := range middleware {
			if !yield(k) {
				return
			}
		}
	})
	for _, order := range mwPermutations(names) {
		t.Run(strings.Join(order, ">"), func(t *testing.T) {
			t.Parallel()
			var h http.Handler = mux
			for i := len(order) - 1; i >= 0; i-- {
				h = middleware[order[i]](h)
			}
			outside := func(a, b string) bool { return slices.Index(order, a) < slices.Index(order, b) }
			for _, c := range checks {
				rec, p := mwServe(h, c.req())
				if p != nil {
					t.Fatalf("%s: panic %v", c.name, p)
				}
				if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.body) {
					t.Errorf("%s: %d %q; want %d containing %q", c.name, rec.Code, rec.Body, c.status, c.body)
				}
				if c.status >= 400 && rec.Header().Get("Content-Type") != problem.ContentType {
					t.Errorf("%s: Content-Type %q; want %q", c.name, rec.Header().Get("Content-Type"), problem.ContentType)
				}
				hdr := rec.Header()
				wantCORS := c.rejectedBy == "" || c.rejectedBy == "CORS" || outside("CORS", c.rejectedBy)
				if got := hdr.Get("Access-Control-Allow-Origin"); (got == origin) != wantCORS {
					t.Errorf("%s: Access-Control-Allow-Origin = %q; want it set: %v", c.name, got, wantCORS)
				}
				wantSec := c.rejectedBy == "" || outside("SecurityHeaders", c.rejectedBy)
				if got := hdr.Get("X-Frame-Options"); (got == "DENY") != wantSec {
					t.Errorf("%s: X-Frame-Options = %q; want it set: %v", c.name, got, wantSec)
				}
			}
		})
	}
}

// TestMiddlewareCompositionOverNetwork runs a few orders on a real server,
// where chunked bodies, flushing and the abort of a late response are real.
func TestMiddlewareCompositionOverNetwork(t *testing.T) {
	t.Parallel()
	orders := [][]string{
		{"IPFilter", "CORS", "SecurityHeaders", "MaxBody", "Timeout"}, // the recommended order
		{"Timeout", "MaxBody", "SecurityHeaders", "CORS", "IPFilter"},
		{"MaxBody", "IPFilter", "Timeout", "CORS", "SecurityHeaders"},
	}
	for _, order := range orders {
		t.Run(strings.Join(order, ">"), func(t *testing.T) {
			t.Parallel()
			middleware := map[string]func(http.Handler) http.Handler{
				"Timeout":         guard.Timeout(time.Minute),
				"MaxBody":         guard.MaxBody(16),
				"CORS":            guard.CORS(guard.CORSConfig{AllowedOrigins: []string{"*"}}),
				"SecurityHeaders": guard.SecurityHeaders(guard.DefaultSecurityHeaders()),
				"IPFilter":        guard.IPFilter(guard.IPFilterConfig{Allow: mwPrefixes("127.0.0.0/8", "::1/128"), Key: mwRemoteKey}),
			}
			var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				if err != nil {
					http.Error(w, "unreadable", http.StatusBadRequest)
					return
				}
				for i := range 3 {
					fmt.Fprintf(w, "%d:%s;", i, b)
					http.NewResponseController(w).Flush()
				}
			})
			for i := len(order) - 1; i >= 0; i-- {
				h = middleware[order[i]](h)
			}
			srv := mwServer(t, h, false, nil)
			for _, tc := range []struct {
				body string
				want int
			}{{"small", 200}, {strings.Repeat("x", 17), 413}} {
				req, _ := http.NewRequest(http.MethodPost, srv.URL, mwUnknownLength{strings.NewReader(tc.body)})
				req.ContentLength = -1
				req.Header.Set("Origin", "https://any.example")
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatalf("POST %d bytes: %v", len(tc.body), err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != tc.want {
					t.Errorf("POST %d bytes = %d %q, %v; want %d", len(tc.body), resp.StatusCode, got, err, tc.want)
				}
				if tc.want == 200 && string(got) != "0:small;1:small;2:small;" {
					t.Errorf("body = %q; want the three flushed parts", got)
				}
				outside := func(a string) bool { return tc.want == 200 || slices.Index(order, a) < slices.Index(order, "MaxBody") }
				if got := resp.Header.Get("Access-Control-Allow-Origin"); (got == "*") != outside("CORS") {
					t.Errorf("Access-Control-Allow-Origin = %q; want it set: %v", got, outside("CORS"))
				}
				if got := resp.Header.Get("X-Frame-Options"); (got == "DENY") != outside("SecurityHeaders") {
					t.Errorf("X-Frame-Options = %q; want it set: %v", got, outside("SecurityHeaders"))
				}
			}
		})
	}
}
