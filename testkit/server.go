package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// MaxRecordedBody is the number of bytes of each request body that a
// [Server] records; the rest is read and discarded.
const MaxRecordedBody = 10 << 20

// Response is one scripted answer of a [Server].
type Response struct {
	// Status is the status code. Zero means 200.
	Status int
	// Header is added to the response headers.
	Header http.Header
	// Body is the response body.
	Body string
	// Hold, if non-nil, delays the response until Hold is closed. If the
	// client goes away (for example, its context times out) or the test
	// ends first, the connection is closed without a response. Use it to
	// test client timeouts and cancellation without sleeping.
	Hold <-chan struct{}
}

// Request is what a [Server] recorded of one request.
type Request struct {
	Method string
	Path   string // the URL path, e.g. "/v1/things"
	Query  string // the raw query, without '?'
	Header http.Header
	Body   []byte // at most MaxRecordedBody bytes
	// BodyErr is the error that stopped the server from reading the whole
	// body, such as [io.ErrUnexpectedEOF] when the client sent fewer bytes
	// than its Content-Length and closed its side, or a malformed chunked
	// encoding; Body then holds only the bytes that arrived. It is nil
	// when the body was read to its end (bytes beyond MaxRecordedBody are
	// read and discarded, not an error).
	BodyErr error
}

// Server is an HTTP test server that answers from a script and records the
// requests it gets. Requests get the scripted responses in the order they
// arrive; once the script is used up, the last response repeats, so that
// NewServer(t, Response{}) answers every request with an empty 200. An empty
// script also answers 200. To detect a client that sends too many requests,
// check len(s.Requests()).
//
// A request is recorded before its response is written, so a client that
// got a response can rely on Requests including its request. A Server is safe
// for concurrent use. It is closed when the test is cleaned up: held
// responses are abandoned, client connections are closed, and the serving
// goroutines have exited when the cleanup returns.
type Server struct {
	// URL is the base URL, "http://127.0.0.1:port", without a trailing slash.
	URL string

	srv  *httptest.Server
	done chan struct{} // closed at cleanup to release held responses

	mu     sync.Mutex
	script []Response
	next   int
	reqs   []Request
}

// NewServer starts a Server that answers with responses, in order. The
// slice is copied; the Header maps in it are not and must not be modified
// while the test runs. NewServer calls t.Fatal if it cannot listen on a
// loopback address.
func NewServer(t testing.TB, responses ...Response) *Server {
	t.Helper()
	s := &Server{
		done:   make(chan struct{}),
		script: append([]Response(nil), responses...),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(func() {
		s.srv.CloseClientConnections()
		close(s.done)
		s.srv.Close()
	})
	return s
}

// Client returns an *http.Client for the server. Its idle connections are
// closed when the server is, which keeps leak checkers quiet.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Requests returns a copy of the requests received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRecordedBody))
	if err == nil {
		_, err = io.Copy(io.Discard, r.Body)
	}
	rec := Request{
		Method:  r.Method,
		Path:    r.URL.Path,
		Query:   r.URL.RawQuery,
		Header:  r.Header.Clone(),
		Body:    body,
		BodyErr: err,
	}

	s.mu.Lock()
	s.reqs = append(s.reqs, rec)
	resp := Response{}
	if len(s.script) > 0 {
		resp = s.script[min(s.next, len(s.script)-1)]
		s.next++
	}
	s.mu.Unlock()

	if resp.Hold != nil {
		select {
		case <-resp.Hold:
		case <-r.Context().Done():
			panic(http.ErrAbortHandler) // the client is gone; write nothing
		case <-s.done:
			// Returning would send an implicit 200; abort the connection
			// instead, so the client sees the server go away.
			panic(http.ErrAbortHandler)
		}
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, resp.Body)
}
