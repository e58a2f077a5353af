package respwrite

import (
	"net"
	"net/http"
	"strings"
)

// Abort ends a response that has started but cannot be completed, so that
// the client sees a failed transfer rather than a truncated body that looks
// complete, and then panics with [http.ErrAbortHandler] so that net/http and
// the middleware outside treat the request as aborted. It must be called on
// the goroutine serving the request, with w no longer used by anyone else;
// it reads r's protocol version only.
//
// net/http answers an ErrAbortHandler panic by closing an HTTP/1 connection
// in the orderly way (FIN) and by resetting an HTTP/2 stream. A chunked
// body without its last chunk, or a body shorter than its Content-Length,
// then fails to read on the client; but a body delimited by the end of the
// connection (an HTTP/1.0 response without Content-Length, or HTTP/1.1 with
// Transfer-Encoding: identity) reads as complete, and so does it for
// anything that reads it that way (nginx speaks HTTP/1.0 to upstreams by
// default). For such a response Abort hijacks the connection where the
// writer allows it and closes it with SO_LINGER 0, which sends a TCP reset
// (on a TLS connection, without a close_notify alert): the client's read
// fails.
func Abort(w http.ResponseWriter, r *http.Request) {
	if closeDelimited(r, w.Header()) {
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			reset(c)
		}
	}
	panic(http.ErrAbortHandler)
}

// closeDelimited reports whether the body of the HTTP/1 response with
// header h to r ends only where the connection ends (RFC 9112 §6.3).
func closeDelimited(r *http.Request, h http.Header) bool {
	if r.ProtoMajor != 1 || h.Get("Content-Length") != "" {
		return false
	}
	if r.ProtoMinor == 0 {
		return true
	}
	return strings.EqualFold(strings.TrimSpace(h.Get("Transfer-Encoding")), "identity")
}

// reset closes c so that the peer sees an error: with SO_LINGER 0 on a TCP
// connection (a reset instead of an orderly close), and without the TLS
// close_notify alert, which would tell the peer that all data arrived. Other
// connections are simply closed.
func reset(c net.Conn) {
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
		c = tc.NetConn()
	}
	if l, ok := c.(interface{ SetLinger(sec int) error }); ok {
		_ = l.SetLinger(0)
	}
	_ = c.Close()
}
