package guard_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/guard"
)

func TestCheckTrustedProxies(t *testing.T) {
	t.Parallel()
	pp := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	tests := []struct {
		name    string
		set     []netip.Prefix
		wantErr string // "" means accepted
	}{
		{"none", nil, ""},
		{"proxies", pp("10.0.0.0/8", "192.168.1.0/24", "fd00::/8"), ""},
		{"half of IPv4", pp("0.0.0.0/1"), ""},
		{"all IPv4 but one address", pp("0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3", "224.0.0.0/4", "240.0.0.0/5", "248.0.0.0/6", "252.0.0.0/7", "254.0.0.0/8", "255.0.0.0/9", "255.128.0.0/10", "255.192.0.0/11", "255.224.0.0/12", "255.240.0.0/13", "255.248.0.0/14", "255.252.0.0/15", "255.254.0.0/16", "255.255.0.0/17", "255.255.128.0/18", "255.255.192.0/19", "255.255.224.0/20", "255.255.240.0/21", "255.255.248.0/22", "255.255.252.0/23", "255.255.254.0/24", "255.255.255.0/25", "255.255.255.128/26", "255.255.255.192/27", "255.255.255.224/28", "255.255.255.240/29", "255.255.255.248/30", "255.255.255.252/31", "255.255.255.254/32"), ""},
		{"IPv4 catch-all", pp("0.0.0.0/0"), "covers every address"},
		{"IPv6 catch-all", pp("::/0"), "covers every address"},
		{"mapped catch-all", pp("::ffff:0.0.0.0/96"), "covers every address"},
		{"two IPv4 halves", pp("0.0.0.0/1", "128.0.0.0/1"), "together cover every address"},
		{"halves out of order, overlapping", pp("128.0.0.0/1", "10.0.0.0/8", "0.0.0.0/1"), "together cover every address"},
		{"two IPv6 halves", pp("::/1", "8000::/1"), "together cover every address"},
		{"mapped and plain IPv4 halves", pp("::ffff:0.0.0.0/97", "128.0.0.0/1"), "together cover every address"},
		{"IPv4 halves with IPv6 proxies", pp("0.0.0.0/1", "128.0.0.0/1", "fd00::/8"), "together cover every address"},
		{"invalid", []netip.Prefix{{}}, "invalid trusted proxy prefix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := guard.CheckTrustedProxies(tc.set...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("CheckTrustedProxies(%v) = %v; want nil", tc.set, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("CheckTrustedProxies(%v) = %v; want an error containing %q", tc.set, err, tc.wantErr)
			}
			if tc.wantErr == "" {
				return
			}
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "guard.ClientIP: ") || !strings.Contains(msg, tc.wantErr) {
					t.Errorf("ClientIP(%v) panic = %q; want the check's error", tc.set, msg)
				}
			}()
			guard.ClientIP(tc.set...)
		})
	}
}
