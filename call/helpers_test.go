package call_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chassis-go/chassis/call"
)

// server is a loopback test server that counts requests and connections.
type server struct {
	*httptest.Server
	hits  atomic.Int64 // requests that reached the handler
	conns atomic.Int64 // connections accepted
}

// newServer starts h on 127.0.0.1 and closes it when the test ends.
func newServer(t testing.TB, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// newClient builds a Client whose idle connections are closed when the test
// ends.
func newClient(t testing.TB, opts ...call.Option) *call.Client {
	t.Helper()
	c := call.New(opts...)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// fastRetry is a retry policy with waits short enough not to matter.
var fastRetry = call.RetryPolicy{BaseDelay: 1, MaxDelay: 1}

// sequence returns a handler answering with the given statuses in turn,
// then 200 for ever.
func sequence(statuses ...int) http.HandlerFunc {
	var mu sync.Mutex
	i := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		st := http.StatusOK
		if i < len(statuses) {
			st = statuses[i]
		}
		i++
		mu.Unlock()
		w.WriteHeader(st)
		_, _ = w.Write([]byte(http.StatusText(st)))
	}
}

// hijackClose is a handler that drops the connection without a response.
func hijackClose(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}
