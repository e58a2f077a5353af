package guard_test

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/guard"
)

// checkIPKey fails unless key is a canonical, zone-free, unmapped IP address.
func checkIPKey(t *testing.T, key string) {
	t.Helper()
	a, err := netip.ParseAddr(key)
	if err != nil {
		t.Fatalf("key %q is not an IP address: %v", key, err)
	}
	if a.String() != key || a.Zone() != "" || a.Is4In6() {
		t.Fatalf("key %q is not canonical (zone %q, 4-in-6 %v)", key, a.Zone(), a.Is4In6())
	}
}

func FuzzRemoteIP(f *testing.F) {
	for _, s := range []string{
		"1.2.3.4:1111", "[2001:db8::1]:443", "[fe80::1%eth0]:80", "[::ffff:1.2.3.4]:80",
		"1.2.3.4", "::1", "[::1]", "", "@", "[", "]:80", "[%]:1", "1.2.3.4:", ":80", "[::ffff:1.2.3.4%x]:1",
	} {
		f.Add(s)
	}
	remote := guard.RemoteIP()
	prefix := guard.IPv6Prefix(64, guard.RemoteIP())
	f.Fuzz(func(t *testing.T, remoteAddr string) {
		r := &http.Request{RemoteAddr: remoteAddr, Header: http.Header{}}
		key, err := remote(r)
		if err != nil {
			if !errors.Is(err, guard.ErrNoClientIP) || key != "" {
				t.Fatalf("RemoteIP()(%q) = %q, %v; want an error wrapping ErrNoClientIP", remoteAddr, key, err)
			}
		} else {
			checkIPKey(t, key)
		}
		pk, perr := prefix(r)
		if (perr == nil) != (err == nil) {
			t.Fatalf("IPv6Prefix(64, RemoteIP())(%q) error %v, RemoteIP error %v; want both or neither", remoteAddr, perr, err)
		}
		if perr == nil {
			if p, err := netip.ParsePrefix(pk); err == nil {
				if p.Bits() != 64 || p.Masked() != p || !p.Addr().Is6() {
					t.Fatalf("IPv6Prefix(64, RemoteIP())(%q) = %q; want a masked IPv6 /64", remoteAddr, pk)
				}
			} else {
				checkIPKey(t, pk)
				if !strings.Contains(pk, ".") {
					t.Fatalf("IPv6Prefix(64, RemoteIP())(%q) = %q; want IPv6 as a prefix", remoteAddr, pk)
				}
			}
		}
	})
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:1", "198.51.100.7", "")
	f.Add("10.0.0.1:1", "6.6.6.6, 198.51.100.7, 10.1.1.1", "10.2.2.2")
	f.Add("10.0.0.1:1", " , junk,,[2001:db8::1]:80", "")
	f.Add("[fd00::1]:1", "fe80::1%eth0", "::ffff:10.0.0.9")
	f.Add("203.0.113.9:1", "1.1.1.1", "2.2.2.2")
	f.Add("10.0.0.1:1", ",,,,", "10.1.1.1:99999")
	f.Add("bogus", "1.1.1.1", "")
	key := guard.ClientIP(
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("::ffff:192.168.0.0/112"),
	)
	f.Fuzz(func(t *testing.T, remoteAddr, xff1, xff2 string) {
		r := &http.Request{RemoteAddr: remoteAddr, Header: http.Header{}}
		r.Header["X-Forwarded-For"] = []string{xff1, xff2}
		got, err := key(r)
		if err != nil {
			if !errors.Is(err, guard.ErrNoClientIP) || got != "" {
				t.Fatalf("ClientIP(...)(%q, %q, %q) = %q, %v; want an error wrapping ErrNoClientIP", remoteAddr, xff1, xff2, got, err)
			}
			return
		}
		checkIPKey(t, got)
		// The key is the peer or an address written in the header.
		peer, _ := guard.RemoteIP()(r)
		if got != peer && !strings.Contains(xff1+","+xff2, got) {
			canonical := false
			for _, part := range strings.FieldsFunc(xff1+","+xff2, func(r rune) bool { return r == ',' }) {
				part = strings.Trim(part, " \t")
				if a, err := netip.ParseAddr(part); err == nil && a.Unmap().WithZone("").String() == got {
					canonical = true
				} else if ap, err := netip.ParseAddrPort(part); err == nil && ap.Addr().Unmap().WithZone("").String() == got {
					canonical = true
				} else if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(part, "["), "]")); err == nil && a.Unmap().WithZone("").String() == got {
					canonical = true
				}
			}
			if !canonical {
				t.Fatalf("ClientIP(...)(%q, %q, %q) = %q; want the peer %q or an address from the header", remoteAddr, xff1, xff2, got, peer)
			}
		}
	})
}
