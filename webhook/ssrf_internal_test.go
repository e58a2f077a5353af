package webhook

import (
	"errors"
	"net/netip"
	"testing"
)

func TestDialPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr                    string
		deny, loopback, private bool // allowed by: the default, AllowLoopback, AllowPrivate
	}{
		{"93.184.215.14", true, true, true},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", true, true, true},
		{"127.0.0.1", false, true, false},
		{"127.1.2.3", false, true, false},
		{"::1", false, true, false},
		{"::ffff:127.0.0.1", false, true, false},
		{"10.1.2.3", false, false, true},
		{"172.16.0.1", false, false, true},
		{"192.168.1.1", false, false, true},
		{"100.64.0.1", false, false, true},
		{"fd00::1", false, false, true},
		{"169.254.169.254", false, false, false}, // cloud metadata
		{"fe80::1", false, false, false},
		{"0.0.0.0", false, false, false},
		{"::", false, false, false},
		{"224.0.0.1", false, false, false},
		{"255.255.255.255", false, false, false},
		{"64:ff9b::a00:1", false, false, false}, // NAT64 of 10.0.0.1
		{"2002:a00:1::", false, false, false},   // 6to4 of 10.0.0.1
		{"198.18.0.1", false, false, false},
	}
	for _, tc := range tests {
		a := netip.MustParseAddr(tc.addr)
		for _, p := range []struct {
			name string
			pol  dialPolicy
			want bool
		}{{"default", dialPolicy{}, tc.deny}, {"AllowLoopback", dialPolicy{loopback: true}, tc.loopback}, {"AllowPrivate", dialPolicy{private: true}, tc.private}} {
			if got := p.pol.allowed(a); got != p.want {
				t.Errorf("%s: allowed(%s) = %v; want %v", p.name, tc.addr, got, p.want)
			}
		}
	}
	p := dialPolicy{allow: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}}
	if !p.allowed(netip.MustParseAddr("10.9.1.1")) || p.allowed(netip.MustParseAddr("10.8.1.1")) {
		t.Error("AllowPrefixes(10.9.0.0/16) does not allow exactly that prefix")
	}
	if err := (&dialPolicy{}).control("tcp", "10.0.0.1:443", nil); !errors.Is(err, ErrForbiddenDestination) {
		t.Errorf("control(10.0.0.1:443) = %v; want ErrForbiddenDestination", err)
	}
	if err := (&dialPolicy{}).control("tcp", "93.184.215.14:443", nil); err != nil {
		t.Errorf("control(public) = %v; want nil", err)
	}
}
