package guard

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecurityHeadersConfig lists the hardening headers [SecurityHeaders] sets
// on every response. An empty string field means the header is not set, so
// the zero value sets nothing; start from [DefaultSecurityHeaders] and
// change what your service needs. The constructor copies the value.
type SecurityHeadersConfig struct {
	// ContentTypeOptions is X-Content-Type-Options ("nosniff": browsers
	// must not guess a content type other than the declared one).
	ContentTypeOptions string
	// FrameOptions is X-Frame-Options ("DENY": no page may frame the
	// response; the legacy twin of CSP frame-ancestors).
	FrameOptions string
	// ReferrerPolicy is Referrer-Policy.
	ReferrerPolicy string
	// ContentSecurityPolicy is Content-Security-Policy. The default suits
	// APIs; a service that serves HTML needs its own policy.
	ContentSecurityPolicy string
	// CrossOriginOpenerPolicy is Cross-Origin-Opener-Policy.
	CrossOriginOpenerPolicy string
	// CrossOriginResourcePolicy is Cross-Origin-Resource-Policy ("same-origin":
	// other sites cannot embed the response with <img>, <script> and the
	// like; CORS requests are governed by CORS, not by this header).
	CrossOriginResourcePolicy string
	// PermissionsPolicy is Permissions-Policy.
	PermissionsPolicy string

	// HSTSMaxAge is the max-age of Strict-Transport-Security, in whole
	// seconds (truncated). Zero sends no HSTS header. The header is only
	// sent on requests that arrived over TLS (see TrustForwardedProto),
	// since browsers ignore it over plain HTTP.
	HSTSMaxAge time.Duration
	// HSTSIncludeSubDomains adds includeSubDomains to the HSTS header: every
	// subdomain must then serve HTTPS too.
	HSTSIncludeSubDomains bool
	// HSTSPreload adds preload to the HSTS header, consenting to browsers'
	// built-in HSTS lists. Hard to undo; off by default.
	HSTSPreload bool

	// TrustForwardedProto, if non-nil, reports whether a request came from a
	// proxy whose X-Forwarded-Proto header may be believed, typically by
	// checking r.RemoteAddr against the proxy's network. For such requests
	// the header's last value (the one the nearest proxy set) being "https"
	// counts as TLS for HSTS. Nil means the header is never believed: a
	// client could otherwise send it itself.
	TrustForwardedProto func(r *http.Request) bool
}

// DefaultSecurityHeaders returns a new SecurityHeadersConfig with defaults
// for an API service:
//
//	X-Content-Type-Options: nosniff
//	X-Frame-Options: DENY
//	Referrer-Policy: no-referrer
//	Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
//	Cross-Origin-Opener-Policy: same-origin
//	Cross-Origin-Resource-Policy: same-origin
//	Strict-Transport-Security: max-age=31536000; includeSubDomains (TLS requests only)
//
// and no Permissions-Policy. Each call returns a fresh value, which the
// caller may modify.
func DefaultSecurityHeaders() SecurityHeadersConfig {
	return SecurityHeadersConfig{
		ContentTypeOptions:        "nosniff",
		FrameOptions:              "DENY",
		ReferrerPolicy:            "no-referrer",
		ContentSecurityPolicy:     "default-src 'none'; frame-ancestors 'none'",
		CrossOriginOpenerPolicy:   "same-origin",
		CrossOriginResourcePolicy: "same-origin",
		HSTSMaxAge:                365 * 24 * time.Hour,
		HSTSIncludeSubDomains:     true,
	}
}

// SecurityHeaders sets the headers of cfg on every response before calling
// next, so next (or middleware inside) may override or delete any of them.
// Strict-Transport-Security is set only when the request arrived over TLS
// (r.TLS != nil) or, with cfg.TrustForwardedProto, through a trusted proxy
// that says so; never because of a header a client could send itself.
//
// SecurityHeaders does not wrap the ResponseWriter. Mount it outside
// middleware that may reject requests (Timeout, MaxBody, RateLimit,
// IPFilter) so that their error responses carry the headers too.
//
// Panics, naming the field, if a header value contains a control character
// such as CR or LF (which would let it inject other headers), or if
// cfg.HSTSMaxAge is negative.
func SecurityHeaders(cfg SecurityHeadersConfig) func(http.Handler) http.Handler {
	s := newSecurityHeaders(cfg)
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("guard.SecurityHeaders: next handler is nil; pass the handler to protect")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.set(w.Header(), r)
			next.ServeHTTP(w, r)
		})
	}
}

type securityHeaders struct {
	keys   []string // canonical header names
	values []string // values[i] is the value of keys[i]; HSTS, if any, is last
	hsts   bool     // whether the last key is Strict-Transport-Security
	trust  func(*http.Request) bool
}

func newSecurityHeaders(cfg SecurityHeadersConfig) *securityHeaders {
	s := &securityHeaders{trust: cfg.TrustForwardedProto}
	for _, f := range []struct{ field, key, value string }{
		{"ContentTypeOptions", "X-Content-Type-Options", cfg.ContentTypeOptions},
		{"FrameOptions", "X-Frame-Options", cfg.FrameOptions},
		{"ReferrerPolicy", "Referrer-Policy", cfg.ReferrerPolicy},
		{"ContentSecurityPolicy", "Content-Security-Policy", cfg.ContentSecurityPolicy},
		{"CrossOriginOpenerPolicy", "Cross-Origin-Opener-Policy", cfg.CrossOriginOpenerPolicy},
		{"CrossOriginResourcePolicy", "Cross-Origin-Resource-Policy", cfg.CrossOriginResourcePolicy},
		{"PermissionsPolicy", "Permissions-Policy", cfg.PermissionsPolicy},
	} {
		if f.value == "" {
			continue
		}
		if i := strings.IndexFunc(f.value, func(c rune) bool { return c < 0x20 && c != '\t' || c == 0x7f }); i >= 0 {
			panic(fmt.Sprintf("guard.SecurityHeaders: cfg.%s contains the control character %q at byte %d; header values must not contain CR, LF or other control characters", f.field, f.value[i], i))
		}
		s.keys = append(s.keys, f.key)
		s.values = append(s.values, strings.TrimSpace(f.value))
	}
	if cfg.HSTSMaxAge < 0 {
		panic(fmt.Sprintf("guard.SecurityHeaders: cfg.HSTSMaxAge is %v; use 0 to send no Strict-Transport-Security, or a positive duration", cfg.HSTSMaxAge))
	}
	if secs := int64(cfg.HSTSMaxAge / time.Second); secs > 0 {
		v := "max-age=" + strconv.FormatInt(secs, 10)
		if cfg.HSTSIncludeSubDomains {
			v += "; includeSubDomains"
		}
		if cfg.HSTSPreload {
			v += "; preload"
		}
		s.keys = append(s.keys, "Strict-Transport-Security")
		s.values = append(s.values, v)
		s.hsts = true
	}
	return s
}

func (s *securityHeaders) set(h http.Header, r *http.Request) {
	n := len(s.keys)
	if s.hsts && !s.secure(r) {
		n--
	}
	if n == 0 {
		return
	}
	// One allocation for all values, as http.Header.Clone does; each entry
	// gets a capacity-limited slice, so appends never share memory.
	vals := make([]string, n)
	copy(vals, s.values)
	for i, k := range s.keys[:n] {
		h[k] = vals[i : i+1 : i+1]
	}
}

// secure reports whether r reached the client-facing side over TLS.
func (s *securityHeaders) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if s.trust == nil || !s.trust(r) {
		return false
	}
	return strings.EqualFold(lastForwardedProto(r.Header.Values("X-Forwarded-Proto")), "https")
}

// lastForwardedProto returns the last comma-separated element of the
// X-Forwarded-Proto field lines, trimmed: the one the nearest proxy added.
func lastForwardedProto(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	last := lines[len(lines)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.TrimSpace(last)
}
