package guard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/guard"
)

func TestCORSConfigValidation(t *testing.T) {
	t.Parallel()
	origins := func(o ...string) guard.CORSConfig { return guard.CORSConfig{AllowedOrigins: o} }
	tests := []struct {
		name string
		cfg  guard.CORSConfig
		want string // the start of the panic message; "" for a valid config
	}{
		{"no origins", guard.CORSConfig{}, "guard.CORS: cfg.AllowedOrigins is empty"},
		{"star with credentials", guard.CORSConfig{AllowedOrigins: []string{"*"}, AllowCredentials: true}, `guard.CORS: cfg.AllowedOrigins contains "*" with cfg.AllowCredentials`},
		{"null with credentials", guard.CORSConfig{AllowedOrigins: []string{"https://a.example", "null"}, AllowCredentials: true}, `guard.CORS: cfg.AllowedOrigins contains "null"`},
		{"no scheme", origins("example.com"), "guard.CORS: cfg.AllowedOrigins[0]"},
		{"trailing slash", origins("https://example.com/"), "guard.CORS: cfg.AllowedOrigins[0]"},
		{"path", origins("https://ok.example", "https://example.com/api"), "guard.CORS: cfg.AllowedOrigins[1]"},
		{"query", origins("https://example.com?x=1"), "guard.CORS: cfg.AllowedOrigins[0]"},
		{"user info", origins("https://user@example.com"), "guard.CORS: cfg.AllowedOrigins[0]"},
		{"port zero", origins("https://example.com:0"), "guard.CORS: cfg.AllowedOrigins[0]"},
		{"port too large", origins("https://example.com:65536"), "guard.CORS: cfg.AllowedOrigins[0]"},
		{"empty port", origins("https://example.com:"), "guard.CORS: cfg.AllowedOrigins[0]"},
		{"two wildcards", origins("https://*.*.example.com"), "guard.CORS: cfg.AllowedOrigins[0]"},
		{"inner wildcard", origins("https://api-*.example.com"), "guard.CORS: cfg.AllowedOrigins[0]"},
		{"space", origins("https://ex ample.com"), "guard.CORS: cfg.AllowedOrigins[0]"},
		{"empty host", origins("https://"), "guard.CORS: cfg.AllowedOrigins[0]"},
		{"bad scheme", origins("1http://example.com"), "guard.CORS: cfg.AllowedOrigins[0]"},
		{"bad IPv6", origins("http://[::1"), "guard.CORS: cfg.AllowedOrigins[0]"},
		{"negative MaxAge", guard.CORSConfig{AllowedOrigins: []string{"*"}, MaxAge: -time.Second}, "guard.CORS: cfg.MaxAge is -1s"},
		{"bad method", guard.CORSConfig{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET", "GE T"}}, "guard.CORS: cfg.AllowedMethods[1]"},
		{"empty methods", guard.CORSConfig{AllowedOrigins: []string{"*"}, AllowedMethods: []string{}}, "guard.CORS: cfg.AllowedMethods is empty"},
		{"bad header", guard.CORSConfig{AllowedOrigins: []string{"*"}, AllowedHeaders: []string{"X-Ok", "X:Bad"}}, "guard.CORS: cfg.AllowedHeaders[1]"},
		{"bad exposed header", guard.CORSConfig{AllowedOrigins: []string{"*"}, ExposedHeaders: []string{"X\r\nY"}}, "guard.CORS: cfg.ExposedHeaders[0]"},
		{"exposed star with credentials", guard.CORSConfig{AllowedOrigins: []string{"https://a.example"}, ExposedHeaders: []string{"*"}, AllowCredentials: true}, `guard.CORS: cfg.ExposedHeaders contains "*"`},

		{"star", origins("*"), ""},
		{"null without credentials", origins("null"), ""},
		{"port", origins("http://localhost:3000"), ""},
		{"IPv6", origins("http://[::1]:8080"), ""},
		{"wildcard subdomain", origins("https://*.example.com"), ""},
		{"upper case", origins("HTTPS://App.Example.COM"), ""},
		{"custom scheme", origins("chrome-extension://abcdef"), ""},
		{"everything", guard.CORSConfig{
			AllowedOrigins: []string{"https://a.example"}, AllowedMethods: []string{"GET", "patch"},
			AllowedHeaders: []string{"*"}, ExposedHeaders: []string{"RateLimit"}, AllowCredentials: true, MaxAge: time.Hour,
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mwRecover(func() { guard.CORS(tc.cfg) })
			if tc.want == "" {
				if p != nil {
					t.Fatalf("CORS(%+v) panicked: %v; want no panic", tc.cfg, p)
				}
				return
			}
			if s, _ := p.(string); !strings.HasPrefix(s, tc.want) {
				t.Errorf("CORS(%+v) panic = %v; want a message starting %q", tc.cfg, p, tc.want)
			}
		})
	}
}

// mwCORSRequest sends a request through h and reports whether next ran.
func mwCORSRequest(cfg guard.CORSConfig, method string, header map[string]string) (*httptest.ResponseRecorder, bool) {
	ran := false
	h := guard.CORS(cfg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran = true
		w.Header().Set("X-Next", "1")
	}))
	req := httptest.NewRequest(method, "/", nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec, ran
}

func mwHasVary(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

func TestCORSActualRequests(t *testing.T) {
	t.Parallel()
	cfg := guard.CORSConfig{
		AllowedOrigins:   []string{"https://app.example.com", "https://*.tenants.example"},
		ExposedHeaders:   []string{"ratelimit", "X-Request-ID"},
		AllowCredentials: true,
	}
	tests := []struct {
		name, origin string
		wantACAO     string // "" for not allowed
	}{
		{"allowed", "https://app.example.com", "https://app.example.com"},
		{"allowed, other case", "HTTPS://APP.Example.com", "HTTPS://APP.Example.com"},
		{"wildcard subdomain", "https://acme.tenants.example", "https://acme.tenants.example"},
		{"wildcard deeper subdomain", "https://a.b.tenants.example", "https://a.b.tenants.example"},
		{"wildcard does not match apex", "https://tenants.example", ""},
		{"other scheme", "http://app.example.com", ""},
		{"other port", "https://app.example.com:8443", ""},
		{"suffix attack", "https://app.example.com.evil.example", ""},
		{"disallowed", "https://evil.example", ""},
		{"null", "null", ""},
		{"absent", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hdr := map[string]string{}
			if tc.origin != "" {
				hdr["Origin"] = tc.origin
			}
			rec, ran := mwCORSRequest(cfg, http.MethodGet, hdr)
			h := rec.Header()
			if !ran || h.Get("X-Next") != "1" {
				t.Errorf("next ran = %v; want every non-preflight request to reach next", ran)
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != tc.wantACAO {
				t.Errorf("Access-Control-Allow-Origin for Origin %q = %q; want %q", tc.origin, got, tc.wantACAO)
			}
			if !mwHasVary(h, "Origin") {
				t.Errorf("Vary = %q; want Origin on every response", h.Values("Vary"))
			}
			wantCreds, wantExpose := "", ""
			if tc.wantACAO != "" {
				wantCreds, wantExpose = "true", "Ratelimit, X-Request-Id"
			}
			if got := h.Get("Access-Control-Allow-Credentials"); got != wantCreds {
				t.Errorf("Access-Control-Allow-Credentials = %q; want %q", got, wantCreds)
			}
			if got := h.Get("Access-Control-Expose-Headers"); got != wantExpose {
				t.Errorf("Access-Control-Expose-Headers = %q; want %q", got, wantExpose)
			}
		})
	}
}

func TestCORSAnyOrigin(t *testing.T) {
	t.Parallel()
	cfg := guard.CORSConfig{AllowedOrigins: []string{"*"}}
	rec, _ := mwCORSRequest(cfg, http.MethodGet, map[string]string{"Origin": "https://anyone.example"})
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q; want *", got)
	}
	rec, _ = mwCORSRequest(cfg, http.MethodGet, nil)
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" || !mwHasVary(rec.Header(), "Origin") {
		t.Errorf("without Origin: Access-Control-Allow-Origin = %q, Vary = %q; want none, Origin", got, rec.Header().Values("Vary"))
	}
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	cfg := guard.CORSConfig{
		AllowedOrigins:   []string{"https://app.example.com"},
		AllowedMethods:   []string{"GET", "put", "PATCH"},
		AllowedHeaders:   []string{"Content-Type", "Authorization"},
		AllowCredentials: true,
		MaxAge:           1500 * time.Millisecond,
	}
	tests := []struct {
		name           string
		origin, method string
		headers        string // Access-Control-Request-Headers; "" for none
		allowed        bool
	}{
		{"allowed method", "https://app.example.com", "PATCH", "", true},
		{"method spelled in lower case in config", "https://app.example.com", "PUT", "", true},
		{"allowed headers", "https://app.example.com", "GET", "authorization,content-type", true},
		{"allowed origin in other case", "https://App.Example.com", "GET", "", true},
		{"disallowed method", "https://app.example.com", "DELETE", "", false},
		{"method is case-sensitive", "https://app.example.com", "patch", "", false},
		{"disallowed header", "https://app.example.com", "GET", "authorization,x-secret", false},
		{"disallowed origin", "https://evil.example", "GET", "", false},
		{"no origin", "", "GET", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hdr := map[string]string{"Access-Control-Request-Method": tc.method}
			if tc.origin != "" {
				hdr["Origin"] = tc.origin
			}
			if tc.headers != "" {
				hdr["Access-Control-Request-Headers"] = tc.headers
			}
			rec, ran := mwCORSRequest(cfg, http.MethodOptions, hdr)
			h := rec.Header()
			if ran || rec.Code != http.StatusNoContent {
				t.Errorf("preflight = %d, next ran = %v; want 204 from CORS itself", rec.Code, ran)
			}
			for _, v := range []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"} {
				if !mwHasVary(h, v) {
					t.Errorf("Vary = %q; want it to name %s", h.Values("Vary"), v)
				}
			}
			want := map[string]string{
				"Access-Control-Allow-Origin":      tc.origin,
				"Access-Control-Allow-Methods":     tc.method,
				"Access-Control-Allow-Headers":     tc.headers,
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Max-Age":           "2",
			}
			for k, v := range want {
				if !tc.allowed {
					v = ""
				}
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q; want %q", k, got, v)
				}
			}
		})
	}
}

func BenchmarkCORS(b *testing.B) {
	h := guard.CORS(guard.CORSConfig{AllowedOrigins: []string{"https://a.example", "https://app.example.com"}})(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Origin", "https://app.example.com")
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(&mwDiscard{h: http.Header{}}, req)
	}
}
