package guard_test

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/guard"
)

// FuzzIPFilter feeds arbitrary keys to IPFilter: it must never panic, admit
// exactly the addresses the rules admit, and log a bad key on one line.
func FuzzIPFilter(f *testing.F) {
	for _, s := range []string{"10.1.2.3", "10.66.0.1", "::ffff:10.66.0.1", "fe80::1%eth0", "2001:db8::1", "",
		"not an ip", "10.1.2.3:80", "1.2.3.4\r\nX: y", strings.Repeat("\xff", 300)} {
		f.Add(s)
	}
	allow := mwPrefixes("10.0.0.0/8", "2001:db8::/32", "fe80::/10")
	deny := mwPrefixes("10.66.0.0/16")
	f.Fuzz(func(t *testing.T, key string) {
		var logs mwBuffer
		cfg := guard.IPFilterConfig{Allow: allow, Deny: deny, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
		status, ran := mwIPFilterStatus(cfg, key)
		want := false
		if a, err := netip.ParseAddr(key); err == nil {
			a = a.WithZone("").Unmap()
			want = !deny[0].Contains(a) && (allow[0].Contains(a) || allow[1].Contains(a) || allow[2].Contains(a))
		} else if n := strings.Count(logs.String(), "\n"); n != 1 {
			t.Fatalf("log for key %q has %d lines; want 1", key, n)
		}
		if ran != want || (status == http.StatusOK) != want {
			t.Fatalf("IPFilter for key %q = %d, next ran %v; want admitted = %v", key, status, ran, want)
		}
	})
}
