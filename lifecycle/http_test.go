package lifecycle_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chassis-go/chassis/lifecycle"
)

// listen returns a loopback listener on a free port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// get sends GET url with a fresh connection and returns status and body.
func get(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// newClient returns a client that keeps no idle connections, so that tests
// leak no goroutines.
func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func hello(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello") }

func TestHTTP_serveAndShutdown(t *testing.T) {
	t.Parallel()
	l := listen(t)
	url := "http://" + l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(hello)}
	ctx, cancel := context.WithCancel(context.Background())
	client := newClient()
	var hookCalls []string
	done := make(chan error, 1)
	go func() {
		done <- lifecycle.Run(ctx,
			lifecycle.HTTP(srv, lifecycle.Listener(l),
				lifecycle.BeforeShutdown(func() {
					// Still serving while the hooks run.
					code, _, err := get(client, url)
					hookCalls = append(hookCalls, fmt.Sprintf("first:%d:%v", code, err))
				}),
				lifecycle.BeforeShutdown(func() { hookCalls = append(hookCalls, "second") }),
			),
			func(ctx context.Context) error {
				code, body, err := get(client, url)
				if code != 200 || body != "hello" || err != nil {
					t.Errorf("GET / = %d %q %v; want 200 hello", code, body, err)
				}
				cancel()
				<-ctx.Done()
				return nil
			})
	}()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
	if got := strings.Join(hookCalls, ","); got != "first:200:<nil>,second" {
		t.Errorf("BeforeShutdown calls = %q; want first:200:<nil>,second", got)
	}
	if _, _, err := get(client, url); err == nil {
		t.Errorf("GET after Run returned succeeded; want connection refused")
	}
}

func TestHTTP_listenOnAddr(t *testing.T) {
	t.Parallel()
	// Find a free port, then let the component listen on it.
	l := listen(t)
	addr := l.Addr().String()
	l.Close()
	serving := make(chan struct{})
	srv := &http.Server{
		Addr:    addr,
		Handler: http.HandlerFunc(hello),
		// Serve calls BaseContext once its listener is open, before accepting.
		BaseContext: func(net.Listener) context.Context { close(serving); return context.Background() },
	}
	ctx, cancel := context.WithCancel(context.Background())
	err := lifecycle.Run(ctx, lifecycle.HTTP(srv), func(ctx context.Context) error {
		<-serving
		code, _, err := get(newClient(), "http://"+addr)
		if code != 200 || err != nil {
			t.Errorf("GET / = %d, %v; want 200", code, err)
		}
		cancel()
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
}

func TestHTTP_listenError(t *testing.T) {
	t.Parallel()
	l := listen(t) // holds the port
	defer l.Close()
	srv := &http.Server{Addr: l.Addr().String()}
	err := lifecycle.Run(context.Background(), lifecycle.HTTP(srv), untilDone(nil))
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.HasPrefix(err.Error(), "lifecycle: listen tcp") {
		t.Errorf("Run(HTTP on a used port) = %v; want lifecycle: listen tcp ... address already in use", err)
	}
}

func TestHTTP_contextAlreadyDone(t *testing.T) {
	t.Parallel()
	l := listen(t) // the component must not listen: this would fail
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := lifecycle.HTTP(&http.Server{Addr: l.Addr().String()})(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("HTTP(srv)(cancelled ctx) = %v; want context.Canceled", err)
	}

	// A given listener is closed, not leaked.
	given := listen(t)
	err = lifecycle.HTTP(&http.Server{}, lifecycle.Listener(given))(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("HTTP(srv, Listener(l))(cancelled ctx) = %v; want context.Canceled", err)
	}
	if c, err := net.Dial("tcp", given.Addr().String()); err == nil {
		c.Close()
		t.Errorf("dial given listener after HTTP returned succeeded; want it closed")
	}
}

func TestHTTP_shutdownTimeout(t *testing.T) {
	t.Parallel()
	l := listen(t)
	url := "http://" + l.Addr().String()
	inHandler := make(chan struct{})
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inHandler)
		<-release // ignores r.Context()
	})}
	ctx, cancel := context.WithCancel(context.Background())
	clientErr := make(chan error, 1)
	go func() {
		_, _, err := get(newClient(), url)
		clientErr <- err
	}()
	done := make(chan error, 1)
	go func() {
		done <- lifecycle.Run(ctx, lifecycle.HTTP(srv, lifecycle.Listener(l), lifecycle.ShutdownTimeout(20*time.Millisecond)))
	}()
	<-inHandler
	cancel()
	err := <-done
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not finish within 20ms") {
		t.Errorf("Run() with a stuck request = %v; want an error wrapping context.DeadlineExceeded", err)
	}
	if err := <-clientErr; err == nil {
		t.Errorf("stuck request succeeded; want its connection closed")
	}
	close(release)
}

func TestHTTP_externalShutdown(t *testing.T) {
	t.Parallel()
	l := listen(t)
	srv := &http.Server{}
	err := lifecycle.Run(context.Background(),
		lifecycle.HTTP(srv, lifecycle.Listener(l)),
		func(ctx context.Context) error {
			// Someone else shuts the server down: the HTTP component
			// returns nil early, which Run treats as a failure.
			go srv.Shutdown(context.Background())
			<-ctx.Done()
			return nil
		})
	if !errors.Is(err, lifecycle.ErrStoppedEarly) || !strings.Contains(err.Error(), "component 0") {
		t.Errorf("Run() after an external Shutdown = %v; want ErrStoppedEarly for component 0", err)
	}
}

func TestHTTP_TLS(t *testing.T) {
	t.Parallel()
	// Borrow httptest's certificate and a client that trusts it.
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	cfg := ts.TLS.Clone()
	tr := ts.Client().Transport.(*http.Transport).Clone()
	ts.Close()
	tr.DisableKeepAlives = true
	client := &http.Client{Transport: tr}

	l := listen(t)
	url := "https://" + l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(hello), TLSConfig: cfg}
	ctx, cancel := context.WithCancel(context.Background())
	err := lifecycle.Run(ctx, lifecycle.HTTP(srv, lifecycle.Listener(l)), func(ctx context.Context) error {
		code, body, err := get(client, url)
		if code != 200 || body != "hello" || err != nil {
			t.Errorf("GET %s = %d %q %v; want 200 hello", url, code, body, err)
		}
		cancel()
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
}

func TestHTTP_TLSWithoutCertificate(t *testing.T) {
	t.Parallel()
	l := listen(t)
	srv := &http.Server{TLSConfig: &tls.Config{}}
	err := lifecycle.HTTP(srv, lifecycle.Listener(l))(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "lifecycle: serve:") {
		t.Errorf("HTTP(srv with empty TLSConfig)(ctx) = %v; want lifecycle: serve: ...", err)
	}
}

func TestHTTP_panics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fn   func()
		want string
	}{
		{"HTTP nil", func() { lifecycle.HTTP(nil) }, "lifecycle.HTTP: srv is nil;"},
		{"Serve nil", func() { lifecycle.Serve(nil) }, "lifecycle.Serve: srv is nil;"},
		{"DrainDelay negative", func() { lifecycle.DrainDelay(-1) }, "lifecycle.DrainDelay: d must be >= 0, got -1ns;"},
		{"ShutdownTimeout zero", func() { lifecycle.ShutdownTimeout(0) }, "lifecycle.ShutdownTimeout: d must be > 0, got 0s;"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if msg, _ := recover().(string); !strings.HasPrefix(msg, tc.want) {
					t.Errorf("panic = %q; want prefix %q", msg, tc.want)
				}
			}()
			tc.fn()
		})
	}
}

// TestHTTP_optionsCopied checks that BeforeShutdown functions given to one
// component do not leak into another built from a shared option slice.
func TestHTTP_optionsCopied(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls []string
	hook := func(s string) func() {
		return func() { mu.Lock(); calls = append(calls, s); mu.Unlock() }
	}
	base := make([]lifecycle.HTTPOption, 0, 4)
	base = append(base, lifecycle.BeforeShutdown(hook("shared")))
	l1, l2 := listen(t), listen(t)
	var serving sync.WaitGroup
	serving.Add(2)
	newServer := func() *http.Server {
		return &http.Server{BaseContext: func(net.Listener) context.Context { serving.Done(); return context.Background() }}
	}
	c1 := lifecycle.HTTP(newServer(), append(base, lifecycle.Listener(l1), lifecycle.BeforeShutdown(hook("one")))...)
	c2 := lifecycle.HTTP(newServer(), append(base, lifecycle.Listener(l2), lifecycle.BeforeShutdown(hook("two")))...)
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(ctx, c1, c2)
	serving.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v; want nil", err)
	}
	got := strings.Join(calls, ",")
	if strings.Count(got, "shared") != 2 || strings.Count(got, "one") != 1 || strings.Count(got, "two") != 1 {
		t.Errorf("hooks called = %q; want shared twice, one and two once", got)
	}
}
