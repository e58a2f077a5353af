package httpkit

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/problem"
)

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func TestRequestIDRandomFailure(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	h := RequestID(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).(*requestIDHandler)
	h.random = failingReader{}
	h.now = clock.Now
	seen := map[string]bool{}
	for range 3 { // the clock does not move: the counter keeps ids apart
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		id := rec.Header().Get("X-Request-ID")
		if !problem.ValidRequestID(id) || seen[id] {
			t.Fatalf("fallback id %q: valid = %v, seen before = %v; want a new valid id", id, problem.ValidRequestID(id), seen[id])
		}
		seen[id] = true
	}
}

func TestRequestIDKeyCanonical(t *testing.T) {
	t.Parallel()
	if got := http.CanonicalHeaderKey(problem.RequestIDHeader); got != requestIDKey {
		t.Errorf("CanonicalHeaderKey(%q) = %q; want requestIDKey %q", problem.RequestIDHeader, got, requestIDKey)
	}
}
