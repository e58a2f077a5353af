package guard

import "testing"

// slowRemoteIP is RemoteIP's general path alone.
func slowRemoteIP(s string) (string, bool) {
	a, host, ok := parseRemoteAddr(s)
	if !ok {
		return "", false
	}
	return addrKey(a, host), true
}

func TestCanonicalIPv4Host(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means the fast path declines
	}{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"0.0.0.0:0", "0.0.0.0"},
		{"255.255.255.255:65535", "255.255.255.255"},
		{"10.0.0.1:080", "10.0.0.1"},
		{"256.0.0.1:80", ""},
		{"01.2.3.4:80", ""},
		{"1.2.3:80", ""},
		{"1.2.3.4.5:80", ""},
		{"1..3.4:80", ""},
		{"1.2.3.4.:80", ""},
		{"1.2.3.4:", ""},
		{"1.2.3.4:65536", ""},
		{"1.2.3.4:000080", ""}, // valid, but left to the general path
		{"1.2.3.4:8a", ""},
		{"1.2.3.4", ""},
		{"[::1]:80", ""},
		{"::ffff:1.2.3.4:80", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := canonicalIPv4Host(tt.in)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("canonicalIPv4Host(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
		if ok {
			if slow, sok := slowRemoteIP(tt.in); !sok || slow != got {
				t.Errorf("general path for %q = %q, %v; fast path %q", tt.in, slow, sok, got)
			}
		}
	}
}

// FuzzCanonicalIPv4Host: whenever the fast path answers, the general path
// gives the same key.
func FuzzCanonicalIPv4Host(f *testing.F) {
	for _, s := range []string{"1.2.3.4:80", "01.2.3.4:80", "1.2.3.4:65536", "255.255.255.255:0", "1.2.3.4:0080", "[::1]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := canonicalIPv4Host(s)
		if !ok {
			return
		}
		if slow, sok := slowRemoteIP(s); !sok || slow != fast {
			t.Fatalf("canonicalIPv4Host(%q) = %q; general path %q, %v", s, fast, slow, sok)
		}
	})
}
