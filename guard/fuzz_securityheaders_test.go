package guard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/guard"
)

// FuzzSecurityHeadersForwardedProto sends arbitrary X-Forwarded-Proto values:
// HSTS must be set only for a trusted proxy whose last value is https.
func FuzzSecurityHeadersForwardedProto(f *testing.F) {
	for _, s := range []string{"https", "http", "HTTPS", " https ", "http, https", "https,http", "", ",", "https\r\n"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, proto string, trusted bool) {
		cfg := guard.DefaultSecurityHeaders()
		cfg.TrustForwardedProto = func(*http.Request) bool { return trusted }
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header["X-Forwarded-Proto"] = []string{proto}
		got := mwSecurityResponse(cfg, req).Get("Strict-Transport-Security") != ""
		parts := strings.Split(proto, ",")
		want := trusted && strings.EqualFold(strings.TrimSpace(parts[len(parts)-1]), "https")
		if got != want {
			t.Fatalf("HSTS for X-Forwarded-Proto %q (trusted %v) = %v; want %v", proto, trusted, got, want)
		}
	})
}

// FuzzSecurityHeadersValue checks config validation: a value is refused with
// a guard.SecurityHeaders message if it holds a control character other than
// tab, and is otherwise sent as configured (trimmed).
func FuzzSecurityHeadersValue(f *testing.F) {
	for _, s := range []string{"default-src 'self'", "a\r\nb", "\x00", "\t x \t", "é", "\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		cfg := guard.SecurityHeadersConfig{ContentSecurityPolicy: v}
		var h http.Handler
		p := mwRecover(func() { h = guard.SecurityHeaders(cfg)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})) })
		bad := strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f })
		if bad {
			if s, _ := p.(string); !strings.HasPrefix(s, "guard.SecurityHeaders: cfg.ContentSecurityPolicy") {
				t.Fatalf("SecurityHeaders(CSP %q) panic = %v; want a guard.SecurityHeaders message", v, p)
			}
			return
		}
		if p != nil {
			t.Fatalf("SecurityHeaders(CSP %q) panicked: %v", v, p)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if got := rec.Header()["Content-Security-Policy"]; v != "" && (len(got) != 1 || got[0] != strings.TrimSpace(v)) {
			t.Fatalf("Content-Security-Policy = %q; want %q", got, strings.TrimSpace(v))
		}
	})
}
