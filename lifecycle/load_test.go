package lifecycle_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/lifecycle"
)

// TestHTTP_drainUnderLoad shuts a server down with 200 slow requests in
// flight: every one must complete with 200, readiness must report 503 while
// draining, the listener must refuse new connections once Shutdown began,
// and Run must return nil.
func TestHTTP_drainUnderLoad(t *testing.T) {
	t.Parallel()
	const n = 200
	checker := health.New()
	checker.Add("db", func(context.Context) error { return nil })

	var inflight sync.WaitGroup
	inflight.Add(n)
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		inflight.Done()
		<-release
		fmt.Fprint(w, "done")
	})
	mux.Handle("GET /readyz", checker.ReadyHandler())

	l := listen(t)
	addr := l.Addr().String()
	base := "http://" + addr
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	shutdownStarted := make(chan struct{})
	srv.RegisterOnShutdown(func() { close(shutdownStarted) }) // after the listener is closed

	draining := make(chan struct{})
	probed := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- lifecycle.Run(ctx, lifecycle.HTTP(srv,
			lifecycle.Listener(l),
			lifecycle.BeforeShutdown(checker.SetDraining),
			// Holds the drain phase open until the test has probed readiness.
			lifecycle.BeforeShutdown(func() { close(draining); <-probed }),
			lifecycle.ShutdownTimeout(30*time.Second),
		))
	}()

	client := newClient()
	if code, body, err := get(client, base+"/readyz"); code != 200 || err != nil {
		t.Fatalf("GET /readyz before shutdown = %d %s %v; want 200", code, body, err)
	}

	type result struct {
		code int
		body string
		err  error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			code, body, err := get(client, base+"/slow")
			results <- result{code, body, err}
		}()
	}
	inflight.Wait() // all n requests are in their handler
	cancel()        // begin shutdown

	<-draining
	code, body, err := get(client, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"draining":true`) || err != nil {
		t.Errorf("GET /readyz while draining = %d %s %v; want 503 draining", code, body, err)
	}
	close(probed)

	<-shutdownStarted
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("dial %s after Shutdown began succeeded; want refused", addr)
	}
	close(release) // let the in-flight requests finish

	var failed int
	for range n {
		r := <-results
		if r.code != 200 || r.body != "done" || r.err != nil {
			failed++
			if failed <= 3 {
				t.Errorf("in-flight GET /slow = %d %q %v; want 200 done", r.code, r.body, r.err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d in-flight requests failed; want 0", failed, n)
	}
	if err := <-done; err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
	if _, _, err := get(client, base+"/readyz"); err == nil {
		t.Errorf("GET after Run returned succeeded; want connection refused")
	}
}
