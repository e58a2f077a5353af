package testkit

import (
	"net"
	"testing"
)

// Listen returns a TCP listener on 127.0.0.1 with a port chosen by the
// kernel, closed when the test is cleaned up. Pass it to the server under
// test (http.Server.Serve, grpc.Server.Serve) and dial l.Addr(): unlike
// picking a free port and closing it before the server binds it, no other
// process can take the port in between. Closing l earlier is fine.
//
// Listen calls t.Fatal if the listener cannot be created, so it must be
// called from the test's goroutine.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit.Listen: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}
