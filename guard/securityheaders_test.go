package guard_test

import (
	"crypto/tls"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/guard"
)

func TestDefaultSecurityHeadersIsFresh(t *testing.T) {
	t.Parallel()
	a := guard.DefaultSecurityHeaders()
	a.FrameOptions = "SAMEORIGIN"
	a.HSTSMaxAge = 0
	b := guard.DefaultSecurityHeaders()
	if b.FrameOptions != "DENY" || b.HSTSMaxAge != 365*24*time.Hour {
		t.Errorf("DefaultSecurityHeaders() after changing an earlier result = %+v; want the defaults", b)
	}
}

// mwSecurityResponse returns the headers SecurityHeaders(cfg) sets on r.
func mwSecurityResponse(cfg guard.SecurityHeadersConfig, r *http.Request) http.Header {
	h := guard.SecurityHeaders(cfg)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Header()
}

func TestSecurityHeadersDefaults(t *testing.T) {
	t.Parallel()
	want := http.Header{
		"X-Content-Type-Options":       {"nosniff"},
		"X-Frame-Options":              {"DENY"},
		"Referrer-Policy":              {"no-referrer"},
		"Content-Security-Policy":      {"default-src 'none'; frame-ancestors 'none'"},
		"Cross-Origin-Opener-Policy":   {"same-origin"},
		"Cross-Origin-Resource-Policy": {"same-origin"},
	}
	plain := httptest.NewRequest(http.MethodGet, "http://api.example/", nil)
	if got := mwSecurityResponse(guard.DefaultSecurityHeaders(), plain); !maps.EqualFunc(got, want, headerValuesEqual) {
		t.Errorf("headers over plain HTTP = %v; want %v", got, want)
	}
	secure := httptest.NewRequest(http.MethodGet, "https://api.example/", nil)
	secure.TLS = &tls.ConnectionState{}
	want.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	if got := mwSecurityResponse(guard.DefaultSecurityHeaders(), secure); !maps.EqualFunc(got, want, headerValuesEqual) {
		t.Errorf("headers over TLS = %v; want %v", got, want)
	}
}

func headerValuesEqual(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func TestSecurityHeadersZeroConfigSetsNothing(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.TLS = &tls.ConnectionState{}
	if got := mwSecurityResponse(guard.SecurityHeadersConfig{}, r); len(got) != 0 {
		t.Errorf("headers from the zero config = %v; want none", got)
	}
}

func TestSecurityHeadersHSTS(t *testing.T) {
	t.Parallel()
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	fromProxy := func(r *http.Request) bool {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		return err == nil && proxy.Contains(ap.Addr())
	}
	tests := []struct {
		name   string
		trust  func(*http.Request) bool
		remote string
		tls    bool
		proto  []string // X-Forwarded-Proto lines
		want   bool
	}{
		{name: "TLS", tls: true, want: true},
		{name: "plain", want: false},
		{name: "client claims https, no trust configured", proto: []string{"https"}, want: false},
		{name: "client claims https, not from the proxy", trust: fromProxy, remote: "203.0.113.5:1234", proto: []string{"https"}, want: false},
		{name: "trusted proxy says https", trust: fromProxy, remote: "10.1.2.3:1234", proto: []string{"https"}, want: true},
		{name: "trusted proxy says HTTPS", trust: fromProxy, remote: "10.1.2.3:1234", proto: []string{" HTTPS "}, want: true},
		{name: "trusted proxy says http", trust: fromProxy, remote: "10.1.2.3:1234", proto: []string{"http"}, want: false},
		{name: "trusted proxy, no header", trust: fromProxy, remote: "10.1.2.3:1234", want: false},
		{name: "client prepended https", trust: fromProxy, remote: "10.1.2.3:1234", proto: []string{"https, http"}, want: false},
		{name: "proxy appended https", trust: fromProxy, remote: "10.1.2.3:1234", proto: []string{"http,https"}, want: true},
		{name: "several lines, last is https", trust: fromProxy, remote: "10.1.2.3:1234", proto: []string{"http", "https"}, want: true},
		{name: "several lines, last is http", trust: fromProxy, remote: "10.1.2.3:1234", proto: []string{"https", "http"}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := guard.DefaultSecurityHeaders()
			cfg.HSTSPreload = true
			cfg.TrustForwardedProto = tc.trust
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.remote != "" {
				r.RemoteAddr = tc.remote
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for _, p := range tc.proto {
				r.Header.Add("X-Forwarded-Proto", p)
			}
			got := mwSecurityResponse(cfg, r).Get("Strict-Transport-Security")
			want := ""
			if tc.want {
				want = "max-age=31536000; includeSubDomains; preload"
			}
			if got != want {
				t.Errorf("Strict-Transport-Security = %q; want %q", got, want)
			}
		})
	}
}

func TestSecurityHeadersHandlerOverrides(t *testing.T) {
	t.Parallel()
	h := guard.SecurityHeaders(guard.DefaultSecurityHeaders())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		w.Header().Del("X-Frame-Options")
		w.Header().Add("Referrer-Policy", "extra") // appending must not touch other requests' headers
	}))
	for range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if got := rec.Header().Get("Content-Security-Policy"); got != "default-src 'self'" {
			t.Errorf("Content-Security-Policy = %q; want the handler's", got)
		}
		if _, ok := rec.Header()["X-Frame-Options"]; ok {
			t.Errorf("X-Frame-Options present; want the handler's deletion to stick")
		}
		if got := rec.Header().Values("Referrer-Policy"); len(got) != 2 || got[0] != "no-referrer" {
			t.Errorf("Referrer-Policy = %q; want [no-referrer extra]", got)
		}
	}
}

func TestSecurityHeadersValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*guard.SecurityHeadersConfig)
		want   string
	}{
		{"CRLF in CSP", func(c *guard.SecurityHeadersConfig) {
			c.ContentSecurityPolicy = "default-src 'none'\r\nSet-Cookie: a=b"
		}, "guard.SecurityHeaders: cfg.ContentSecurityPolicy contains the control character '\\r'"},
		{"LF in frame options", func(c *guard.SecurityHeadersConfig) { c.FrameOptions = "DENY\n" }, "guard.SecurityHeaders: cfg.FrameOptions contains"},
		{"NUL in referrer policy", func(c *guard.SecurityHeadersConfig) { c.ReferrerPolicy = "no\x00referrer" }, "guard.SecurityHeaders: cfg.ReferrerPolicy contains"},
		{"CR in content type options", func(c *guard.SecurityHeadersConfig) { c.ContentTypeOptions = "\rnosniff" }, "guard.SecurityHeaders: cfg.ContentTypeOptions contains"},
		{"DEL in COOP", func(c *guard.SecurityHeadersConfig) { c.CrossOriginOpenerPolicy = "same-origin\x7f" }, "guard.SecurityHeaders: cfg.CrossOriginOpenerPolicy contains"},
		{"LF in CORP", func(c *guard.SecurityHeadersConfig) { c.CrossOriginResourcePolicy = "\n" }, "guard.SecurityHeaders: cfg.CrossOriginResourcePolicy contains"},
		{"LF in permissions policy", func(c *guard.SecurityHeadersConfig) { c.PermissionsPolicy = "geolocation=()\n" }, "guard.SecurityHeaders: cfg.PermissionsPolicy contains"},
		{"negative HSTS", func(c *guard.SecurityHeadersConfig) { c.HSTSMaxAge = -time.Second }, "guard.SecurityHeaders: cfg.HSTSMaxAge is -1s"},
		{"tab is fine", func(c *guard.SecurityHeadersConfig) { c.PermissionsPolicy = "geolocation=(),\tcamera=()" }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := guard.DefaultSecurityHeaders()
			tc.modify(&cfg)
			p := mwRecover(func() { guard.SecurityHeaders(cfg) })
			if tc.want == "" {
				if p != nil {
					t.Fatalf("SecurityHeaders panicked: %v; want no panic", p)
				}
				return
			}
			if s, _ := p.(string); !strings.HasPrefix(s, tc.want) {
				t.Errorf("SecurityHeaders panic = %v; want a message starting %q", p, tc.want)
			}
		})
	}
	if s, _ := mwRecover(func() { guard.SecurityHeaders(guard.SecurityHeadersConfig{})(nil) }).(string); !strings.HasPrefix(s, "guard.SecurityHeaders: next handler is nil") {
		t.Errorf("SecurityHeaders(cfg)(nil) panic = %q; want the nil-handler message", s)
	}
}

func BenchmarkSecurityHeaders(b *testing.B) {
	h := guard.SecurityHeaders(guard.DefaultSecurityHeaders())(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.TLS = &tls.ConnectionState{}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(&mwDiscard{h: make(http.Header, 8)}, req)
	}
}
