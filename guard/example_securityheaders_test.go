package guard_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"

	"github.com/chassis-go/chassis/guard"
)

func ExampleSecurityHeaders() {
	cfg := guard.DefaultSecurityHeaders()
	cfg.PermissionsPolicy = "geolocation=(), camera=()"
	h := guard.SecurityHeaders(cfg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	req := httptest.NewRequest(http.MethodGet, "https://api.example.com/", nil)
	req.TLS = &tls.ConnectionState{} // as the server sets it for HTTPS
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range rec.Header() {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Printf("%s: %s\n", k, rec.Header().Get(k))
	}
	// Output:
	// Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
	// Cross-Origin-Opener-Policy: same-origin
	// Cross-Origin-Resource-Policy: same-origin
	// Permissions-Policy: geolocation=(), camera=()
	// Referrer-Policy: no-referrer
	// Strict-Transport-Security: max-age=31536000; includeSubDomains
	// X-Content-Type-Options: nosniff
	// X-Frame-Options: DENY
}

// Behind a TLS-terminating load balancer, requests arrive over plain HTTP;
// trust its X-Forwarded-Proto, and only its.
func ExampleSecurityHeadersConfig_trustForwardedProto() {
	cfg := guard.DefaultSecurityHeaders()
	cfg.TrustForwardedProto = func(r *http.Request) bool {
		return r.RemoteAddr == "10.0.0.2:4000" // in practice: the balancer's network
	}
	h := guard.SecurityHeaders(cfg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	for _, remote := range []string{"10.0.0.2:4000", "203.0.113.7:5000"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = remote
		req.Header.Set("X-Forwarded-Proto", "https")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("%s: %q\n", remote, rec.Header().Get("Strict-Transport-Security"))
	}
	// Output:
	// 10.0.0.2:4000: "max-age=31536000; includeSubDomains"
	// 203.0.113.7:5000: ""
}
