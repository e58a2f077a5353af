// Package rediserr sorts a failed Redis call into the bounded classes the
// Redis-backed packages report as the error.type metric attribute, so that
// every package classifies the same failure the same way.
package rediserr

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// The classes Class returns.
const (
	Timeout    = "timeout"    // the call's deadline, the pool wait or a socket timeout
	Server     = "server"     // Redis answered, with an error reply
	Connection = "connection" // refused, reset, closed, or cut mid-reply
	Other      = "other"
)

// Class returns the class of err, a non-nil error from a Redis call.
func Class(err error) string {
	var netErr net.Error
	var rerr redis.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, redis.ErrPoolTimeout),
		errors.As(err, &netErr) && netErr.Timeout():
		return Timeout
	case errors.As(err, &rerr):
		return Server
	case errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, redis.ErrClosed), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return Connection
	}
	return Other
}
