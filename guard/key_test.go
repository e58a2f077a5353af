package guard_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/guard"
)

func keyRequest(remoteAddr string, xff ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remoteAddr
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

func TestRemoteIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		remoteAddr string
		want       string // "" means an error
	}{
		{"1.2.3.4:1111", "1.2.3.4"},
		{"1.2.3.4:2222", "1.2.3.4"},
		{"1.2.3.4", "1.2.3.4"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[2001:DB8:0:0:0:0:0:1]:443", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"2001:db8::1", "2001:db8::1"},
		{"[fe80::1%eth0]:80", "fe80::1"},
		{"[::ffff:1.2.3.4]:80", "1.2.3.4"},
		{"[::1]:80", "::1"},
		{"", ""},
		{"@", ""},
		{"example.com:80", ""},
		{"1.2.3.4:notaport", ""},
		{"01.2.3.4:80", ""},
	}
	key := guard.RemoteIP()
	for _, tc := range tests {
		t.Run(tc.remoteAddr, func(t *testing.T) {
			t.Parallel()
			got, err := key(keyRequest(tc.remoteAddr))
			if tc.want == "" {
				if err == nil || !errors.Is(err, guard.ErrNoClientIP) {
					t.Errorf("RemoteIP()(%q) = %q, %v; want an error wrapping ErrNoClientIP", tc.remoteAddr, got, err)
				}
				return
			}
			if got != tc.want || err != nil {
				t.Errorf("RemoteIP()(%q) = %q, %v; want %q, nil", tc.remoteAddr, got, err, tc.want)
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("::ffff:192.168.0.0/112"), // mapped form of 192.168.0.0/16
	}
	tests := []struct {
		name       string
		remoteAddr string
		xff        []string
		want       string // "" means an error
	}{
		{"no header, untrusted peer", "203.0.113.9:1", nil, "203.0.113.9"},
		{"untrusted peer cannot spoof", "203.0.113.9:1", []string{"1.1.1.1"}, "203.0.113.9"},
		{"trusted peer, one hop", "10.0.0.1:1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"spoofed left entry ignored", "10.0.0.1:1", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"trusted hops skipped", "10.0.0.1:1", []string{"6.6.6.6, 198.51.100.7, 10.1.1.1, 10.2.2.2"}, "198.51.100.7"},
		{"multiple header lines are one list", "10.0.0.1:1", []string{"6.6.6.6, 198.51.100.7", "10.1.1.1"}, "198.51.100.7"},
		{"spoof in an earlier line", "10.0.0.1:1", []string{"6.6.6.6", "198.51.100.7"}, "198.51.100.7"},
		{"all hops trusted", "10.0.0.1:1", []string{"10.9.9.9, 10.8.8.8"}, "10.0.0.1"},
		{"no header, trusted peer", "10.0.0.1:1", nil, "10.0.0.1"},
		{"blank and junk skipped", "10.0.0.1:1", []string{"198.51.100.7, , junk,,\t ,unknown"}, "198.51.100.7"},
		{"only junk", "10.0.0.1:1", []string{"junk, ,"}, "10.0.0.1"},
		{"empty header", "10.0.0.1:1", []string{""}, "10.0.0.1"},
		{"ipv4 with port", "10.0.0.1:1", []string{"198.51.100.7:5555"}, "198.51.100.7"},
		{"ipv6 bracketed with port", "10.0.0.1:1", []string{"[2001:db8::7]:5555"}, "2001:db8::7"},
		{"ipv6 normalized", "10.0.0.1:1", []string{"2001:DB8:0::7"}, "2001:db8::7"},
		{"ipv6 zone dropped", "10.0.0.1:1", []string{"fe80::7%25eth0, fe80::8%eth0"}, "fe80::8"},
		{"4-in-6 unmapped", "10.0.0.1:1", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"trusted ipv6 proxy", "[fd00::1]:1", []string{"198.51.100.7, fd00::2"}, "198.51.100.7"},
		{"mapped trusted prefix matches ipv4", "192.168.1.1:1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"mapped peer trusted", "[::ffff:10.0.0.1]:1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"trusted entry spoofed as 4-in-6 still trusted", "10.0.0.1:1", []string{"6.6.6.6, ::ffff:10.3.3.3"}, "6.6.6.6"},
		{"bad remote addr", "bogus", []string{"198.51.100.7"}, ""},
	}
	key := guard.ClientIP(proxies...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := key(keyRequest(tc.remoteAddr, tc.xff...))
			if tc.want == "" {
				if !errors.Is(err, guard.ErrNoClientIP) {
					t.Errorf("ClientIP(...)(%q, %q) = %q, %v; want an error wrapping ErrNoClientIP", tc.remoteAddr, tc.xff, got, err)
				}
				return
			}
			if got != tc.want || err != nil {
				t.Errorf("ClientIP(...)(%q, %q) = %q, %v; want %q, nil", tc.remoteAddr, tc.xff, got, err, tc.want)
			}
		})
	}
}

func TestClientIPNoProxiesIsRemoteIP(t *testing.T) {
	t.Parallel()
	got, err := guard.ClientIP()(keyRequest("203.0.113.9:1", "1.1.1.1"))
	if got != "203.0.113.9" || err != nil {
		t.Errorf("ClientIP()(...) = %q, %v; want 203.0.113.9, nil", got, err)
	}
}

func TestClientIPLongHeader(t *testing.T) {
	t.Parallel()
	key := guard.ClientIP(netip.MustParsePrefix("10.0.0.0/8"))
	// 10,000 trusted entries (what an attacker behind a trusted proxy could
	// not produce, but a misconfigured chain might): the scan gives up after a
	// bounded number of hops and falls back to the peer.
	long := strings.Repeat("10.1.1.1, ", 10_000) + "10.1.1.2"
	if got, err := key(keyRequest("10.0.0.1:1", long)); got != "10.0.0.1" || err != nil {
		t.Errorf("ClientIP with 10,000 trusted hops = %q, %v; want the peer 10.0.0.1", got, err)
	}
	// 10,000 spoofed entries followed by the address the proxy appended.
	spoofed := strings.Repeat("6.6.6.6,", 10_000) + "198.51.100.7"
	if got, err := key(keyRequest("10.0.0.1:1", spoofed)); got != "198.51.100.7" || err != nil {
		t.Errorf("ClientIP with 10,000 spoofed entries = %q, %v; want 198.51.100.7", got, err)
	}
}

func TestClientIPPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prefix netip.Prefix
		want   string
	}{
		{"zero prefix", netip.Prefix{}, "guard.ClientIP: invalid trusted proxy prefix invalid Prefix; build it with netip.MustParsePrefix"},
		{"ipv4 catch-all", netip.MustParsePrefix("0.0.0.0/0"), "guard.ClientIP: trusted proxy prefix 0.0.0.0/0 covers every address; list only your proxies' networks"},
		{"ipv6 catch-all", netip.MustParsePrefix("::/0"), "guard.ClientIP: trusted proxy prefix ::/0 covers every address; list only your proxies' networks"},
		{"mapped catch-all", netip.MustParsePrefix("::ffff:0.0.0.0/96"), "guard.ClientIP: trusted proxy prefix 0.0.0.0/0 covers every address; list only your proxies' networks"},
		{"catch-all with host bits", netip.MustParsePrefix("1.2.3.4/0"), "guard.ClientIP: trusted proxy prefix 0.0.0.0/0 covers every address; list only your proxies' networks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if got := recover(); got != tc.want {
					t.Errorf("ClientIP(%v) panicked with %v; want %q", tc.prefix, got, tc.want)
				}
			}()
			guard.ClientIP(netip.MustParsePrefix("10.0.0.0/8"), tc.prefix)
		})
	}
}

func TestIPv6Prefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		bits       int
		remoteAddr string
		want       string
	}{
		{64, "[2001:db8:1:2:3:4:5:6]:1", "2001:db8:1:2::/64"},
		{64, "[2001:db8:1:2:ffff::1]:1", "2001:db8:1:2::/64"},
		{56, "[2001:db8:1:2ff::1]:1", "2001:db8:1:200::/56"},
		{128, "[2001:db8::1]:1", "2001:db8::1/128"},
		{64, "1.2.3.4:1", "1.2.3.4"},
		{64, "[::ffff:1.2.3.4]:1", "1.2.3.4"},
		{64, "[fe80::1%eth0]:1", "fe80::/64"},
	}
	for _, tc := range tests {
		got, err := guard.IPv6Prefix(tc.bits, guard.RemoteIP())(keyRequest(tc.remoteAddr))
		if got != tc.want || err != nil {
			t.Errorf("IPv6Prefix(%d, RemoteIP())(%q) = %q, %v; want %q, nil", tc.bits, tc.remoteAddr, got, err, tc.want)
		}
	}
	if _, err := guard.IPv6Prefix(64, guard.RemoteIP())(keyRequest("bogus")); !errors.Is(err, guard.ErrNoClientIP) {
		t.Errorf("IPv6Prefix(64, RemoteIP())(bogus) error = %v; want ErrNoClientIP", err)
	}
	notIP := func(*http.Request) (string, error) { return "alice", nil }
	if _, err := guard.IPv6Prefix(64, notIP)(keyRequest("1.2.3.4:1")); !errors.Is(err, guard.ErrNoClientIP) {
		t.Errorf("IPv6Prefix over a non-IP key: error = %v; want ErrNoClientIP", err)
	}
	for _, bits := range []int{0, -1, 129} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("IPv6Prefix(%d, ...) did not panic", bits)
				}
			}()
			guard.IPv6Prefix(bits, guard.RemoteIP())
		}()
	}
}

func TestHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []string
		want   string // "" means an error
	}{
		{"set", []string{"user-42"}, "user-42"},
		{"first line wins", []string{"user-42", "user-43"}, "user-42"},
		{"missing", nil, ""},
		{"empty", []string{""}, ""},
		{"512 bytes", []string{strings.Repeat("k", 512)}, strings.Repeat("k", 512)},
		{"too long", []string{strings.Repeat("k", 513)}, ""},
	}
	key := guard.Header("x-user-id")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tc.values {
				r.Header.Add("X-User-Id", v)
			}
			got, err := key(r)
			if tc.want == "" {
				if !errors.Is(err, guard.ErrNoKey) {
					t.Errorf("Header(x-user-id)(%q) = %q, %v; want an error wrapping ErrNoKey", tc.values, got, err)
				}
				return
			}
			if got != tc.want || err != nil {
				t.Errorf("Header(x-user-id)(%q) = %q, %v; want %q, nil", tc.values, got, err, tc.want)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error(`Header("") did not panic`)
		}
	}()
	guard.Header("")
}

func TestKeyAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	key := guard.RemoteIP()
	r := keyRequest("192.0.2.1:4321")
	if n := testing.AllocsPerRun(100, func() { _, _ = key(r) }); n != 0 {
		t.Errorf("RemoteIP on an IPv4 peer: %v allocs; want 0", n)
	}
	// Work stays bounded and allocation-free whatever the header's length.
	key = guard.ClientIP(netip.MustParsePrefix("10.0.0.0/8"))
	r = keyRequest("10.0.0.1:1", strings.Repeat("junk,", 10_000)+strings.Repeat("10.1.1.1,", 100))
	if n := testing.AllocsPerRun(100, func() { _, _ = key(r) }); n != 0 {
		t.Errorf("ClientIP on a 10,000-entry header: %v allocs; want 0", n)
	}
}
