package reqmeta_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/internal/reqmeta"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEnsureAddsOnce(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if reqmeta.From(r.Context()) != nil {
		t.Fatal("a fresh request has an Info")
	}
	r2, info := reqmeta.Ensure(r)
	if r2 == r || reqmeta.From(r2.Context()) != info {
		t.Fatal("Ensure did not add its Info to a copy of the request")
	}
	r3, info3 := reqmeta.Ensure(r2)
	if r3 != r2 || info3 != info {
		t.Error("Ensure on a request with an Info copied it or made a new one")
	}
}

func TestRequestID(t *testing.T) {
	r, info := reqmeta.Ensure(httptest.NewRequest("GET", "/", nil))
	if got := reqmeta.RequestID(r.Context()); got != "" {
		t.Errorf("RequestID before any is set = %q; want empty", got)
	}
	if got := info.SetRequestID("a"); got != "a" {
		t.Errorf("SetRequestID(a) = %q; want a", got)
	}
	if got := info.SetRequestID("b"); got != "a" {
		t.Errorf("second SetRequestID(b) = %q; want the first id, a", got)
	}
	if got := reqmeta.RequestID(r.Context()); got != "a" {
		t.Errorf("RequestID = %q; want a", got)
	}
	if got := reqmeta.RequestID(httptest.NewRequest("GET", "/", nil).Context()); got != "" {
		t.Errorf("RequestID without Info = %q; want empty", got)
	}
}

// With nested muxes the innermost pattern, published first, wins.
func TestPublishInnermostWins(t *testing.T) {
	api := http.NewServeMux()
	var inner string
	api.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {})
	root := http.NewServeMux()
	root.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer reqmeta.Publish(r) // root's "/" — published after the inner one
		r2 := r.WithContext(r.Context())
		api.ServeHTTP(w, r2)
		reqmeta.Publish(r2)
		inner = r2.Pattern
	}))
	r, info := reqmeta.Ensure(httptest.NewRequest("GET", "/users/7", nil))
	root.ServeHTTP(httptest.NewRecorder(), r)
	if inner != "GET /users/{id}" || info.Pattern(r) != "GET /users/{id}" {
		t.Errorf("Pattern = %q (inner %q); want GET /users/{id}", info.Pattern(r), inner)
	}
	if got := reqmeta.Route(info.Pattern(r)); got != "/users/{id}" {
		t.Errorf("Route = %q; want /users/{id}", got)
	}
}

func TestPatternFallsBackToRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Pattern = "GET /x"
	if got := reqmeta.Pattern(r); got != "GET /x" {
		t.Errorf("Pattern without Info = %q; want r.Pattern", got)
	}
	r, info := reqmeta.Ensure(r)
	info.Publish("")
	if got := info.Pattern(r); got != "GET /x" {
		t.Errorf("Pattern after an empty Publish = %q; want r.Pattern", got)
	}
}

func TestRoute(t *testing.T) {
	for pattern, want := range map[string]string{
		"GET example.com/users/{id}": "/users/{id}",
		"/":                          "/",
		"POST /notes":                "/notes",
		"example.com":                "",
		"":                           "",
	} {
		if got := reqmeta.Route(pattern); got != want {
			t.Errorf("Route(%q) = %q; want %q", pattern, got, want)
		}
	}
}

func TestInfoConcurrent(t *testing.T) {
	r, info := reqmeta.Ensure(httptest.NewRequest("GET", "/", nil))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			info.Publish("GET /p")
			info.SetRequestID("id")
			_ = info.Pattern(r)
			_ = info.RequestID()
			_ = i
		})
	}
	wg.Wait()
	if info.Pattern(r) != "GET /p" || info.RequestID() != "id" {
		t.Errorf("after concurrent use: %q %q", info.Pattern(r), info.RequestID())
	}
}

type otherKey struct{}

// TestEnsureContextIsTransparent: the context Ensure adds keeps its parent's
// values, deadline and cancellation, and contexts derived from it are
// cancelled with the parent.
func TestEnsureContextIsTransparent(t *testing.T) {
	deadline := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	parent, cancel := context.WithDeadline(context.WithValue(context.Background(), otherKey{}, "v"), deadline)
	r, info := reqmeta.Ensure(httptest.NewRequest("GET", "/", nil).WithContext(parent))
	ctx := r.Context()
	if got := ctx.Value(otherKey{}); got != "v" {
		t.Errorf("Value(otherKey) = %v; want the parent's value", got)
	}
	if reqmeta.From(ctx) != info {
		t.Error("From does not find the Info")
	}
	if d, ok := ctx.Deadline(); !ok || !d.Equal(deadline) {
		t.Errorf("Deadline() = %v, %v; want the parent's", d, ok)
	}
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	cancel()
	select {
	case <-child.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a context derived from Ensure's was not cancelled with the parent")
	}
	if ctx.Err() != context.Canceled || child.Err() != context.Canceled {
		t.Errorf("Err() = %v, child %v; want context.Canceled", ctx.Err(), child.Err())
	}
}
