package rediserr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/internal/rediserr"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

type replyErr struct{}

func (replyErr) Error() string { return "ERR wrong number of arguments" }
func (replyErr) RedisError()   {}

func TestClass(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, rediserr.Timeout},
		{fmt.Errorf("get: %w", redis.ErrPoolTimeout), rediserr.Timeout},
		{&net.OpError{Op: "read", Err: timeoutErr{}}, rediserr.Timeout},
		{replyErr{}, rediserr.Server},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, rediserr.Connection},
		{io.EOF, rediserr.Connection},
		{redis.ErrClosed, rediserr.Connection},
		{fmt.Errorf("write: %w", syscall.EPIPE), rediserr.Connection},
		{errors.New("something else"), rediserr.Other},
	}
	for _, tc := range tests {
		if got := rediserr.Class(tc.err); got != tc.want {
			t.Errorf("Class(%v) = %q; want %q", tc.err, got, tc.want)
		}
	}
}
