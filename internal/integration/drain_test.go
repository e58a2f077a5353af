package integration_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/httpkit"
	"github.com/chassis-go/chassis/lifecycle"
)

// TestDrain runs an httpkit server as a lifecycle.HTTP component with
// BeforeShutdown(checker.SetDraining): once shutdown begins, readiness
// answers 503 while liveness stays 200, and a request in flight since
// before the shutdown still completes with 200.
func TestDrain(t *testing.T) {
	checker := health.New()
	checker.Add("db", func(context.Context) error { return nil })

	started := make(chan struct{})
	finish := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("GET /readyz", checker.ReadyHandler())
	mux.Handle("GET /livez", checker.LiveHandler())
	mux.HandleFunc("GET /work", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-finish
		_, _ = io.WriteString(w, "done")
	})
	logger, _ := newLogger()
	srv := httpkit.NewServer("", httpkit.Chain(httpkit.Recovery(logger), httpkit.RequestID)(mux))
	shutdown := make(chan struct{})
	srv.RegisterOnShutdown(func() { close(shutdown) })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() err = %v", err)
	}
	base := "http://" + ln.Addr().String()

	// The second BeforeShutdown hook holds the shutdown, after SetDraining
	// and before the server stops accepting connections, until the probes
	// below are done: the window a DrainDelay gives load balancers.
	draining := make(chan struct{})
	probed := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() {
		ran <- lifecycle.Run(ctx, lifecycle.HTTP(srv,
			lifecycle.Listener(ln),
			lifecycle.BeforeShutdown(checker.SetDraining),
			lifecycle.BeforeShutdown(func() { close(draining); <-probed }),
		))
	}()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	if resp, body := get(t, client, base+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /readyz before shutdown = %d %s; want 200", resp.StatusCode, body)
	}

	type outcome struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan outcome, 1)
	go func() {
		resp, err := client.Get(base + "/work")
		if err != nil {
			inflight <- outcome{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		inflight <- outcome{resp.StatusCode, string(b), err}
	}()
	recv(t, started, "the in-flight request to start")

	cancel() // shutdown begins
	recv(t, draining, "BeforeShutdown to run")

	resp, body := get(t, client, base+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz while draining = %d %s; want 503", resp.StatusCode, body)
	}
	var report struct {
		Status   string `json:"status"`
		Draining bool   `json:"draining"`
	}
	if err := json.Unmarshal([]byte(body), &report); err != nil || report.Status != "down" || !report.Draining {
		t.Errorf("GET /readyz while draining body = %s (%v); want status down, draining true", body, err)
	}
	if resp, body := get(t, client, base+"/livez"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /livez while draining = %d %s; want 200", resp.StatusCode, body)
	}
	client.CloseIdleConnections() // only the in-flight request's connection stays
	select {
	case o := <-inflight:
		t.Fatalf("in-flight request ended before being released: %+v", o)
	default:
	}

	close(probed)
	recv(t, shutdown, "the server to begin its graceful shutdown")
	select {
	case err := <-ran:
		t.Fatalf("lifecycle.Run() returned %v while a request was in flight; want it to wait", err)
	default:
	}
	close(finish)
	o := recv(t, inflight, "the in-flight request to finish")
	if o.err != nil || o.status != http.StatusOK || o.body != "done" {
		t.Errorf("in-flight GET /work = %d %q, %v; want 200 \"done\"", o.status, o.body, o.err)
	}
	if err := recv(t, ran, "lifecycle.Run to return"); err != nil {
		t.Errorf("lifecycle.Run() = %v; want nil after a graceful shutdown", err)
	}
	if _, err := client.Get(base + "/livez"); err == nil {
		t.Errorf("GET /livez after shutdown err = nil; want connection refused")
	}
}
