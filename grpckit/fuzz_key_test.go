package grpckit_test

import (
	"errors"
	"net/netip"
	"testing"

	"google.golang.org/grpc/peer"

	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/guard"
)

// strAddr is a net.Addr of any network whose String is the fuzz input.
type strAddr string

func (a strAddr) Network() string { return "fuzz" }
func (a strAddr) String() string  { return string(a) }

// FuzzKeyFromPeer checks that any peer address text yields either a
// canonical IP key or an error wrapping guard.ErrNoClientIP, without
// panicking.
func FuzzKeyFromPeer(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8080", "[::1]:1", "[fe80::1%eth0]:9", "::ffff:10.0.0.1", "bufconn", "", "[", "1.2.3.4:", "@/tmp/x.sock"} {
		f.Add(s)
	}
	key := grpckit.KeyFromPeer()
	f.Fuzz(func(t *testing.T, s string) {
		ctx := peer.NewContext(t.Context(), &peer.Peer{Addr: strAddr(s)})
		k, err := key(ctx)
		if err != nil {
			if !errors.Is(err, guard.ErrNoClientIP) || k != "" {
				t.Fatalf("KeyFromPeer()(%q) = %q, %v; want \"\" and an error wrapping guard.ErrNoClientIP", s, k, err)
			}
			return
		}
		a, perr := netip.ParseAddr(k)
		if perr != nil || a.String() != k || a.Zone() != "" || a.Is4In6() {
			t.Fatalf("KeyFromPeer()(%q) = %q; want a canonical IP without zone, unmapped", s, k)
		}
	})
}
