package guard

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/cors"
)

// CORSConfig is the cross-origin policy of [CORS]. The constructor copies it;
// the fields are read once.
type CORSConfig struct {
	// AllowedOrigins lists the origins allowed to read responses, each as
	// scheme://host or scheme://host:port, without a path or trailing slash
	// ("https://app.example.com", "http://localhost:3000"). The scheme and
	// host match case-insensitively. One wildcard may stand for the leading
	// labels of a host: "https://*.example.com" matches
	// https://a.example.com and https://a.b.example.com, not
	// https://example.com. "*" alone allows every origin (the response says
	// so with Access-Control-Allow-Origin: *). "null" allows the opaque
	// origin of sandboxed frames and local files, which any page can adopt:
	// avoid it. Required: an empty list panics.
	AllowedOrigins []string

	// AllowedMethods lists the methods a cross-origin request may use. Nil
	// means GET, HEAD and POST. Methods are case-sensitive, except that the
	// six a browser normalizes (DELETE, GET, HEAD, OPTIONS, POST, PUT) are
	// matched in upper case whatever the spelling here.
	AllowedMethods []string

	// AllowedHeaders lists the request headers (case-insensitive) a
	// cross-origin request may send beyond the CORS-safelisted ones. Nil
	// means Accept, Content-Type and X-Requested-With; "*" allows any header.
	AllowedHeaders []string

	// ExposedHeaders lists the response headers, beyond the CORS-safelisted
	// ones, that browser scripts may read (Access-Control-Expose-Headers).
	ExposedHeaders []string

	// AllowCredentials lets requests carry cookies and HTTP authentication
	// (Access-Control-Allow-Credentials: true). It cannot be combined with
	// the "*" or "null" origins or with "*" in ExposedHeaders.
	AllowCredentials bool

	// MaxAge is how long browsers may cache a preflight answer
	// (Access-Control-Max-Age), in whole seconds, rounded up. Zero sends no
	// header, so browsers use their default of 5 seconds; browsers also cap
	// it (Chrome at 2 hours, Firefox at 24 hours).
	MaxAge time.Duration
}

// CORS applies a cross-origin resource sharing policy, implemented with
// github.com/rs/cors after validating cfg.
//
// A preflight request (OPTIONS with Access-Control-Request-Method) is
// answered by CORS itself with 204 No Content, and next is not called. If the
// origin is allowed and the requested method and headers are all allowed,
// the answer carries Access-Control-Allow-Origin (the request's Origin, or *
// when every origin is allowed), Access-Control-Allow-Methods,
// Access-Control-Allow-Headers and, if configured,
// Access-Control-Allow-Credentials and Access-Control-Max-Age; otherwise it
// carries none of them and the browser refuses the request.
//
// Other requests always reach next. When their Origin is allowed (and their
// method is in AllowedMethods), the response carries
// Access-Control-Allow-Origin, Access-Control-Expose-Headers and
// Access-Control-Allow-Credentials as configured; when it is absent or not
// allowed, no CORS header is added: CORS is enforced by browsers, and a
// disallowed origin simply cannot read the response. Every response gets
// Vary: Origin (preflights also Vary on the request method and headers), so
// caches never serve one origin's answer to another.
//
// CORS does not wrap the ResponseWriter. Mount it outside middleware that
// may reject requests (Timeout, MaxBody, RateLimit, IPFilter) so that their
// error responses are readable by the browser.
//
// Panics, naming the field, if AllowedOrigins is empty or holds a malformed
// origin, if AllowCredentials is combined with the "*" or "null" origin or
// with "*" in ExposedHeaders, if a method or header name is not a valid HTTP
// token, or if MaxAge is negative.
func CORS(cfg CORSConfig) func(http.Handler) http.Handler {
	c := cors.New(corsOptions(cfg))
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("guard.CORS: next handler is nil; pass the handler to protect")
		}
		return c.Handler(next)
	}
}

// corsOptions validates cfg and translates it for rs/cors.
func corsOptions(cfg CORSConfig) cors.Options {
	if len(cfg.AllowedOrigins) == 0 {
		panic(`guard.CORS: cfg.AllowedOrigins is empty; list the allowed origins, or use "*" to allow any`)
	}
	origins := make([]string, 0, len(cfg.AllowedOrigins))
	for i, o := range cfg.AllowedOrigins {
		switch {
		case o == "*":
			if cfg.AllowCredentials {
				panic(`guard.CORS: cfg.AllowedOrigins contains "*" with cfg.AllowCredentials; list the origins that may send credentials`)
			}
		case strings.EqualFold(o, "null"):
			if cfg.AllowCredentials {
				panic(`guard.CORS: cfg.AllowedOrigins contains "null" with cfg.AllowCredentials; any page can send Origin: null, so remove it`)
			}
			o = "null"
		default:
			if err := corsCheckOrigin(o); err != "" {
				panic(fmt.Sprintf("guard.CORS: cfg.AllowedOrigins[%d] = %q %s; write it as scheme://host[:port], e.g. https://app.example.com", i, o, err))
			}
			o = strings.ToLower(o)
		}
		origins = append(origins, o)
	}

	var methods []string
	if cfg.AllowedMethods != nil {
		methods = make([]string, 0, len(cfg.AllowedMethods))
		for i, m := range cfg.AllowedMethods {
			if !corsToken(m) {
				panic(fmt.Sprintf("guard.CORS: cfg.AllowedMethods[%d] = %q is not a valid method name; use e.g. %q", i, m, http.MethodPut))
			}
			switch u := strings.ToUpper(m); u {
			case http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPost, http.MethodPut:
				m = u // what browsers send, whatever the spelling
			}
			methods = append(methods, m)
		}
		if len(methods) == 0 {
			panic("guard.CORS: cfg.AllowedMethods is empty but not nil; leave it nil for GET, HEAD and POST, or list methods")
		}
	}
	for i, h := range cfg.AllowedHeaders {
		if h != "*" && !corsToken(h) {
			panic(fmt.Sprintf("guard.CORS: cfg.AllowedHeaders[%d] = %q is not a valid header name; use e.g. \"Authorization\"", i, h))
		}
	}
	for i, h := range cfg.ExposedHeaders {
		if h == "*" && cfg.AllowCredentials {
			panic(`guard.CORS: cfg.ExposedHeaders contains "*" with cfg.AllowCredentials; browsers then read it as a header named "*", so list the headers`)
		}
		if h != "*" && !corsToken(h) {
			panic(fmt.Sprintf("guard.CORS: cfg.ExposedHeaders[%d] = %q is not a valid header name; use e.g. \"RateLimit\"", i, h))
		}
	}
	if cfg.MaxAge < 0 {
		panic(fmt.Sprintf("guard.CORS: cfg.MaxAge is %v; use 0 to send no Access-Control-Max-Age, or a positive duration", cfg.MaxAge))
	}
	maxAge := int((cfg.MaxAge + time.Second - 1) / time.Second)
	if cfg.MaxAge > 0 && maxAge <= 0 { // overflow of the rounding
		maxAge = int(cfg.MaxAge / time.Second)
	}
	return cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   methods,
		AllowedHeaders:   slices.Clone(cfg.AllowedHeaders),
		ExposedHeaders:   slices.Clone(cfg.ExposedHeaders),
		AllowCredentials: cfg.AllowCredentials,
		MaxAge:           maxAge,
	}
}

// corsCheckOrigin returns "" if o is a valid origin pattern for AllowedOrigins,
// else the reason it is not.
func corsCheckOrigin(o string) string {
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || scheme == "" {
		return "has no scheme"
	}
	for i := 0; i < len(scheme); i++ {
		c := scheme[i] | 0x20
		if !('a' <= c && c <= 'z' || i > 0 && ('0' <= scheme[i] && scheme[i] <= '9' || strings.IndexByte("+-.", scheme[i]) >= 0)) {
			return "has an invalid scheme"
		}
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") { // IPv6 literal
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "has an unterminated IPv6 address"
		}
		host, port = rest[:end+1], rest[end+1:]
		for _, c := range host[1:end] {
			if !(c == ':' || c == '.' || '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f') {
				return "has an invalid IPv6 address"
			}
		}
		if end == 1 {
			return "has an empty host"
		}
	} else if i := strings.IndexByte(rest, ':'); i >= 0 {
		host, port = rest[:i], rest[i:]
	}
	if port != "" {
		if port[0] != ':' {
			return "has a path, query or garbage after the host"
		}
		n, err := strconv.Atoi(port[1:])
		if err != nil || port[1] == '+' || port[1] == '-' || n < 1 || n > 65535 {
			return "has an invalid port"
		}
	}
	if strings.HasPrefix(host, "[") {
		return ""
	}
	host = strings.TrimPrefix(host, "*.")
	if host == "" {
		return "has an empty host"
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" {
			return "has an empty host label (or a path, or a trailing dot)"
		}
		for i := 0; i < len(label); i++ {
			c := label[i] | 0x20
			if !('a' <= c && c <= 'z' || '0' <= label[i] && label[i] <= '9' || label[i] == '-' || label[i] == '_') {
				return "has a character not allowed in a host name (a path, query, user or second wildcard?)"
			}
		}
	}
	return ""
}

// corsToken reports whether s is a non-empty RFC 9110 token (a valid method or
// header name).
func corsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
