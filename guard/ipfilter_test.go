package guard_test

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/problem"
)

// mwRemoteKey is a test-local key function: the host part of RemoteAddr,
// or RemoteAddr itself when it has no port.
func mwRemoteKey(r *http.Request) (string, error) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr, nil
	}
	return host, nil
}

func mwPrefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// mwIPFilterStatus returns the status IPFilter(cfg) gives a request whose
// key is key, and whether next ran.
func mwIPFilterStatus(cfg guard.IPFilterConfig, key string) (int, bool) {
	ran := false
	if cfg.Key == nil {
		cfg.Key = func(*http.Request) (string, error) { return key, nil }
	}
	h := guard.IPFilter(cfg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran = true }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	return rec.Code, ran
}

func TestIPFilterRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		allow, deny []string
		key         string
		want        bool
	}{
		{"no rules admit all", nil, nil, "198.51.100.7", true},
		{"empty allow admits what deny does not name", nil, []string{"203.0.113.0/24"}, "198.51.100.7", true},
		{"deny", nil, []string{"203.0.113.0/24"}, "203.0.113.9", false},
		{"allow", []string{"10.0.0.0/8"}, nil, "10.20.30.40", true},
		{"outside allow", []string{"10.0.0.0/8"}, nil, "11.0.0.1", false},
		{"deny wins over allow", []string{"10.0.0.0/8"}, []string{"10.6.0.0/16"}, "10.6.1.1", false},
		{"allowed next to denied", []string{"10.0.0.0/8"}, []string{"10.6.0.0/16"}, "10.7.1.1", true},
		{"single address", []string{"192.0.2.1/32"}, nil, "192.0.2.1", true},
		{"IPv6", []string{"2001:db8::/32"}, nil, "2001:db8:1::5", true},
		{"IPv6 outside", []string{"2001:db8::/32"}, nil, "2001:db9::5", false},
		{"IPv6 deny", nil, []string{"2001:db8::/32"}, "2001:db8::1", false},
		{"IPv4-mapped address against IPv4 deny", nil, []string{"203.0.113.0/24"}, "::ffff:203.0.113.9", false},
		{"IPv4-mapped address against IPv4 allow", []string{"10.0.0.0/8"}, nil, "::ffff:10.1.1.1", true},
		{"IPv4-mapped prefix against IPv4 address", nil, []string{"::ffff:203.0.113.0/120"}, "203.0.113.9", false},
		{"zone is ignored", []string{"fe80::/10"}, nil, "fe80::1%eth0", true},
		{"zone cannot dodge deny", nil, []string{"fe80::/10"}, "fe80::1%eth0", false},
		{"unmasked prefix", []string{"10.1.2.3/8"}, nil, "10.200.0.1", true},
		{"IPv4 prefix does not admit IPv6", []string{"0.0.0.0/0"}, nil, "2001:db8::1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := guard.IPFilterConfig{Allow: mwPrefixes(tc.allow...), Deny: mwPrefixes(tc.deny...), Logger: slog.New(slog.DiscardHandler)}
			status, ran := mwIPFilterStatus(cfg, tc.key)
			wantStatus := http.StatusOK
			if !tc.want {
				wantStatus = http.StatusForbidden
			}
			if status != wantStatus || ran != tc.want {
				t.Errorf("IPFilter(allow=%v, deny=%v) for %s = %d, next ran %v; want %d, %v", tc.allow, tc.deny, tc.key, status, ran, wantStatus, tc.want)
			}
		})
	}
}

func TestIPFilterRemoteAddr(t *testing.T) {
	t.Parallel()
	h := guard.IPFilter(guard.IPFilterConfig{Deny: mwPrefixes("192.0.2.0/24"), Key: mwRemoteKey})(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for addr, want := range map[string]int{"192.0.2.1:1234": 403, "198.51.100.1:1234": 200, "[2001:db8::1]:443": 200} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("IPFilter for RemoteAddr %s = %d; want %d", addr, rec.Code, want)
		}
		if want == 403 && rec.Header().Get("Content-Type") != problem.ContentType {
			t.Errorf("403 Content-Type = %q; want %q", rec.Header().Get("Content-Type"), problem.ContentType)
		}
	}
}

func TestIPFilterBadKeys(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("A", 300) + "\r\nX-Injected: 1"
	tests := []struct {
		name      string
		key       guard.KeyFunc
		wantLog   []string
		unwantLog []string
	}{
		{
			name:    "not an IP",
			key:     func(*http.Request) (string, error) { return "not-an-ip", nil },
			wantLog: []string{"level=WARN", "key is not an IP address", `key="\"not-an-ip\""`, "key_len=9"},
		},
		{
			name:    "empty",
			key:     func(*http.Request) (string, error) { return "", nil },
			wantLog: []string{"key is not an IP address", "key_len=0"},
		},
		{
			name:      "with port",
			key:       func(*http.Request) (string, error) { return "192.0.2.1:80", nil },
			wantLog:   []string{"key is not an IP address"},
			unwantLog: nil,
		},
		{
			name:      "long and hostile",
			key:       func(*http.Request) (string, error) { return long, nil },
			wantLog:   []string{`AAAA\"...`, "key_len=315"},
			unwantLog: []string{"X-Injected", "\r\n"},
		},
		{
			name:    "key function error",
			key:     func(*http.Request) (string, error) { return "", errors.New("no \"client\"\nhere") },
			wantLog: []string{"level=WARN", "key function failed", `no \\\"client\\\"\\nhere`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs mwBuffer
			cfg := guard.IPFilterConfig{Key: tc.key, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			status, ran := mwIPFilterStatus(cfg, "")
			if status != http.StatusForbidden || ran {
				t.Errorf("IPFilter = %d, next ran %v; want 403, false", status, ran)
			}
			out := logs.String()
			for _, s := range tc.wantLog {
				if !strings.Contains(out, s) {
					t.Errorf("log %q does not contain %q", out, s)
				}
			}
			for _, s := range tc.unwantLog {
				if strings.Contains(out, s) {
					t.Errorf("log %q contains %q; want the raw key escaped and cut", out, s)
				}
			}
		})
	}
}

func TestIPFilterPanicsOnMisuse(t *testing.T) {
	t.Parallel()
	key := func(*http.Request) (string, error) { return "", nil }
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"nil key", func() { guard.IPFilter(guard.IPFilterConfig{}) }, "guard.IPFilter: cfg.Key is nil"},
		{"zero allow prefix", func() {
			guard.IPFilter(guard.IPFilterConfig{Key: key, Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}}})
		}, "guard.IPFilter: cfg.Allow[1] is not a valid prefix"},
		{"zero deny prefix", func() {
			guard.IPFilter(guard.IPFilterConfig{Key: key, Deny: []netip.Prefix{{}}})
		}, "guard.IPFilter: cfg.Deny[0] is not a valid prefix"},
		{"nil next", func() { guard.IPFilter(guard.IPFilterConfig{Key: key})(nil) }, "guard.IPFilter: next handler is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if s, _ := mwRecover(tc.f).(string); !strings.HasPrefix(s, tc.want) {
				t.Errorf("panic %q; want a message starting %q", s, tc.want)
			}
		})
	}
}

func TestIPFilterMetric(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	cfg := guard.IPFilterConfig{Deny: mwPrefixes("192.0.2.0/24"), MeterProvider: mp, Logger: slog.New(slog.DiscardHandler)}
	for _, key := range []string{"192.0.2.1", "198.51.100.1", "garbage", "192.0.2.2"} {
		mwIPFilterStatus(cfg, key)
	}
	if got := mwCounter(t, reader, "chassis.guard.rejections", "chassis.guard", "ipfilter"); got != 3 {
		t.Errorf("chassis.guard.rejections{chassis.guard=ipfilter} = %d; want 3", got)
	}
}

func BenchmarkIPFilter(b *testing.B) {
	h := guard.IPFilter(guard.IPFilterConfig{
		Allow: mwPrefixes("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "2001:db8::/32"),
		Deny:  mwPrefixes("10.6.0.0/16", "192.168.66.0/24"),
		Key:   mwRemoteKey,
	})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "192.168.1.20:40000"
	w := &mwDiscard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// A flood of requests with bad keys logs one warning, not one per request.
func TestIPFilterWarningsThrottled(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	cfg := guard.IPFilterConfig{
		Key:    func(*http.Request) (string, error) { return "not-an-ip", nil },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	h := guard.IPFilter(cfg)(http.NotFoundHandler())
	for range 1000 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	// 1000 requests take far less than a second, but a slow machine may
	// cross one second boundary: allow two lines, never one per request.
	if n := strings.Count(logs.String(), "key is not an IP address"); n < 1 || n > 2 {
		t.Errorf("1000 bad keys logged %d warnings; want 1 or 2", n)
	}
}
