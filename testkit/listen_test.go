package testkit_test

import (
	"errors"
	"io"
	"net"
	"testing"

	"github.com/chassis-go/chassis/testkit"
)

func TestListen(t *testing.T) {
	t.Parallel()
	var l net.Listener
	t.Run("inner", func(t *testing.T) {
		l = testkit.Listen(t)
		addr := l.Addr().(*net.TCPAddr)
		if !addr.IP.Equal(net.IPv4(127, 0, 0, 1)) || addr.Port == 0 {
			t.Fatalf("Listen(t).Addr() = %v; want 127.0.0.1 with a port", addr)
		}
		accepted := make(chan error, 1)
		go func() {
			c, err := l.Accept()
			if err == nil {
				_, err = c.Write([]byte("hi"))
				c.Close()
			}
			accepted <- err
		}()
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatalf("Dial(%v) err = %v", addr, err)
		}
		defer c.Close()
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "hi" {
			t.Errorf("read %q, %v; want \"hi\", nil", got, err)
		}
		if err := <-accepted; err != nil {
			t.Errorf("Accept() err = %v", err)
		}
	})
	// The inner test's cleanup closed the listener.
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept() after cleanup err = %v; want net.ErrClosed", err)
	}
}
