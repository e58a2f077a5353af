package guard_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/chassis-go/chassis/guard"
)

func ExampleIPFilter() {
	admin := guard.IPFilter(guard.IPFilterConfig{
		Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")},
		Deny:  []netip.Prefix{netip.MustParsePrefix("10.66.0.0/16")}, // deny wins
		// guard.RemoteIP() does this; written out to show what a KeyFunc returns.
		Key: func(r *http.Request) (string, error) {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			return host, err
		},
	})
	h := admin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	for _, remote := range []string{"10.1.2.3:5000", "10.66.0.9:5000", "[2001:db8::7]:443", "198.51.100.1:80"} {
		req := httptest.NewRequest(http.MethodGet, "/admin", nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(remote, rec.Code)
	}
	// Output:
	// 10.1.2.3:5000 200
	// 10.66.0.9:5000 403
	// [2001:db8::7]:443 200
	// 198.51.100.1:80 403
}
