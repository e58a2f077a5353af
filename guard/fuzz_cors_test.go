package guard_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/guard"
)

// FuzzCORS sends arbitrary Origin, method and Access-Control-Request-Headers
// values through CORS: it must never panic, always send Vary: Origin, and
// grant access only to the configured origins, methods and headers.
func FuzzCORS(f *testing.F) {
	f.Add("https://app.example.com", "GET", "", false)
	f.Add("https://app.example.com", "PUT", "authorization,content-type", true)
	f.Add("HTTPS://APP.EXAMPLE.COM", "PUT", "content-type", true)
	f.Add("https://a.tenants.example", "GET", "authorization", true)
	f.Add("https://tenants.example", "GET", "", true)
	f.Add("null", "DELETE", "x-secret", true)
	f.Add("https://app.example.com\r\nX: y", "GET", " , ,authorization", true)
	f.Add("", "", strings.Repeat(",", 40), true)
	f.Add("https://app.example.com", "GET", "content-type,authorization", true)
	allowedHeaders := []string{"authorization", "content-type"}
	h := guard.CORS(guard.CORSConfig{
		AllowedOrigins:   []string{"https://app.example.com", "https://*.tenants.example"},
		AllowedMethods:   []string{"GET", "PUT"},
		AllowedHeaders:   []string{"Authorization", "Content-Type"},
		AllowCredentials: true,
	})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	f.Fuzz(func(t *testing.T, origin, method, reqHeaders string, preflight bool) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if preflight {
			req.Method = http.MethodOptions
			req.Header["Access-Control-Request-Method"] = []string{method}
			req.Header["Access-Control-Request-Headers"] = []string{reqHeaders}
		} else if method != "" {
			req.Method = method
		}
		if origin != "" {
			req.Header["Origin"] = []string{origin}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		hdr := rec.Header()
		if !mwHasVary(hdr, "Origin") {
			t.Fatalf("Vary = %q; want Origin", hdr.Values("Vary"))
		}
		acao := hdr.Get("Access-Control-Allow-Origin")
		if acao == "" {
			return
		}
		lo := strings.ToLower(origin)
		if acao != origin || !(lo == "https://app.example.com" ||
			strings.HasPrefix(lo, "https://") && strings.HasSuffix(lo, ".tenants.example") && len(lo) > len("https://.tenants.example")) {
			t.Fatalf("Access-Control-Allow-Origin = %q for Origin %q; want only configured origins", acao, origin)
		}
		if !preflight {
			return
		}
		if m := req.Header.Get("Access-Control-Request-Method"); m != "GET" && m != "PUT" && m != http.MethodOptions {
			t.Fatalf("preflight granted for method %q; want only GET, PUT", m)
		}
		for name := range strings.SplitSeq(reqHeaders, ",") {
			if name = strings.Trim(name, " \t"); name != "" && !slices.Contains(allowedHeaders, name) {
				t.Fatalf("preflight granted for headers %q; want only %v", reqHeaders, allowedHeaders)
			}
		}
	})
}

// FuzzCORSConfigOrigin checks the validation of AllowedOrigins: a pattern is
// refused with a guard.CORS message, or accepted and then matches a request
// from that very origin (when it has no wildcard).
func FuzzCORSConfigOrigin(f *testing.F) {
	for _, s := range []string{"https://app.example.com", "http://localhost:3000", "http://[::1]:8080", "https://*.example.com",
		"https://example.com/", "example.com", "https://:80", "https://a..b", "HTTPS://X.Y", "a+b://c", "null", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		var h http.Handler
		p := mwRecover(func() {
			h = guard.CORS(guard.CORSConfig{AllowedOrigins: []string{origin}})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		})
		if p != nil {
			if s, _ := p.(string); !strings.HasPrefix(s, "guard.CORS: cfg.AllowedOrigins") {
				t.Fatalf("CORS(AllowedOrigins: [%q]) panicked with %v; want a guard.CORS message", origin, p)
			}
			return
		}
		if strings.Contains(origin, "*") || strings.EqualFold(origin, "null") {
			return
		}
		if _, hostPort, _ := strings.Cut(origin, "://"); hostPort == "" || strings.ContainsAny(hostPort, "/?#@ \t\r\n") {
			t.Fatalf("CORS accepted %q, which is not scheme://host[:port]", origin)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header["Origin"] = []string{strings.ToLower(origin)}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != strings.ToLower(origin) {
			t.Fatalf("accepted origin %q: Access-Control-Allow-Origin = %q; want it allowed", origin, got)
		}
	})
}
