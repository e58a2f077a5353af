package guard_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/chassis-go/chassis/guard"
)

func ExampleRateLimit() {
	limit := guard.RateLimit(guard.RateLimitConfig{
		Limiter: guard.NewMemoryLimiter(guard.PerMinute(1)), // one request per minute per client
		Key:     guard.RemoteIP(),
	})
	h := limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))

	for range 2 {
		req := httptest.NewRequest(http.MethodGet, "/", nil) // from 192.0.2.1:1234
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("RateLimit-Policy"))
	}
	// The 429 also carries Retry-After (60, the seconds until the next
	// allowed request) and a problem+json body.

	// Output:
	// 200 "default";q=1;w=60
	// 429 "default";q=1;w=60
}

// ClientIP keys requests by the address your proxies saw; clients that talk
// to the service directly cannot choose their key with X-Forwarded-For.
func ExampleClientIP() {
	key := guard.ClientIP(netip.MustParsePrefix("10.0.0.0/8"))

	viaProxy := httptest.NewRequest(http.MethodGet, "/", nil)
	viaProxy.RemoteAddr = "10.0.0.5:41000"
	viaProxy.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.7") // 6.6.6.6 is the client's lie
	fmt.Println(key(viaProxy))

	direct := httptest.NewRequest(http.MethodGet, "/", nil)
	direct.RemoteAddr = "203.0.113.9:5000"
	direct.Header.Set("X-Forwarded-For", "1.1.1.1")
	fmt.Println(key(direct))
	// Output:
	// 198.51.100.7 <nil>
	// 203.0.113.9 <nil>
}

// IPv6Prefix counts a whole IPv6 /64, which one host usually owns, as one
// client.
func ExampleIPv6Prefix() {
	key := guard.IPv6Prefix(64, guard.RemoteIP())
	for _, addr := range []string{"[2001:db8:1:2::a]:1", "[2001:db8:1:2::b]:1", "192.0.2.1:1"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = addr
		fmt.Println(key(req))
	}
	// Output:
	// 2001:db8:1:2::/64 <nil>
	// 2001:db8:1:2::/64 <nil>
	// 192.0.2.1 <nil>
}
