package httpkit_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/httpkit"
)

func TestNewServerDefaults(t *testing.T) {
	t.Parallel()
	h := http.NotFoundHandler()
	s := httpkit.NewServer(":8080", h)
	if s.Addr != ":8080" || s.Handler == nil {
		t.Errorf("Addr, Handler = %q, %v; want :8080, the handler", s.Addr, s.Handler)
	}
	if s.ReadHeaderTimeout != 10*time.Second || s.ReadTimeout != 30*time.Second || s.WriteTimeout != 0 ||
		s.IdleTimeout != 120*time.Second || s.MaxHeaderBytes != 64<<10 || s.ErrorLog != nil {
		t.Errorf("NewServer defaults = ReadHeader %v, Read %v, Write %v, Idle %v, MaxHeaderBytes %d, ErrorLog %v; "+
			"want 10s, 30s, 0, 2m0s, 65536, nil", s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout, s.MaxHeaderBytes, s.ErrorLog)
	}
}

func TestNewServerOptions(t *testing.T) {
	t.Parallel()
	s := httpkit.NewServer(":0", http.NotFoundHandler(),
		httpkit.WithReadHeaderTimeout(time.Second),
		httpkit.WithReadTimeout(-1),
		httpkit.WithWriteTimeout(3*time.Second),
		httpkit.WithIdleTimeout(4*time.Second),
		httpkit.WithMaxHeaderBytes(8192),
		httpkit.WithErrorLog(slog.New(&capture{})),
		httpkit.ServerOption(func(s *http.Server) { s.DisableGeneralOptionsHandler = true }),
	)
	if s.ReadHeaderTimeout != time.Second || s.ReadTimeout != -1 || s.WriteTimeout != 3*time.Second ||
		s.IdleTimeout != 4*time.Second || s.MaxHeaderBytes != 8192 || s.ErrorLog == nil || !s.DisableGeneralOptionsHandler {
		t.Errorf("options not applied: %+v", s)
	}
}

// serve runs srv on a loopback listener until the test ends.
func serve(t *testing.T, srv *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve() = %v", err)
		}
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// TestNewServerSlowloris sends request headers a byte at a time and checks
// that the server hangs up once ReadHeaderTimeout has passed.
func TestNewServerSlowloris(t *testing.T) {
	t.Parallel()
	var handled atomic.Bool
	srv := httpkit.NewServer("", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { handled.Store(true) }),
		httpkit.WithReadHeaderTimeout(100*time.Millisecond))
	addr := serve(t, srv)

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stop := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		header := "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 10000)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < len(header); i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte{header[i]}); err != nil {
				return // the server hung up
			}
		}
	}()
	// Generous bound: the server should hang up after ~100ms.
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.ReadAll(conn)
	close(stop)
	<-trickled
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server still had the connection open after 20s of trickled headers")
	}
	if handled.Load() {
		t.Error("handler ran for a request whose headers never completed")
	}
}

func TestNewServerServes(t *testing.T) {
	t.Parallel()
	addr := serve(t, httpkit.NewServer("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Errorf("body = %q; want ok", body)
	}
}

func TestNewServerHeaderLimit(t *testing.T) {
	t.Parallel()
	addr := serve(t, httpkit.NewServer("", http.NotFoundHandler()))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "http://"+addr, nil)
	req.Header.Set("X-Big", strings.Repeat("a", 100<<10))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB header: status %d; want 431", resp.StatusCode)
	}
}

func TestWithErrorLog(t *testing.T) {
	t.Parallel()
	c := &capture{}
	srv := httpkit.NewServer("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.WriteHeader(500) // superfluous: net/http complains in its error log
	}), httpkit.WithErrorLog(slog.New(c)))
	ts := httptest.NewUnstartedServer(srv.Handler)
	ts.Config = srv
	ts.Start()
	defer ts.Close()
	resp, err := ts.Client().Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	recs := c.all()
	if len(recs) != 1 || recs[0].level != slog.LevelWarn || !strings.Contains(recs[0].msg, "superfluous") {
		t.Errorf("error log records = %+v; want one WARN line about the superfluous WriteHeader", recs)
	}
}

// Connections beyond the cap are closed unread while the ones already open
// are served; once one closes, a new connection is admitted.
func TestNewServerMaxConns(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	addr := serve(t, httpkit.NewServer("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "ok")
	}), httpkit.WithMaxConns(2)))

	send := func(c net.Conn) {
		t.Helper()
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		send(c)
		<-entered // the server accepted it and runs its handler
		held = append(held, c)
	}

	// The third connection is over the cap: closed before any answer.
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_, _ = io.WriteString(extra, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if b, err := io.ReadAll(extra); len(b) != 0 {
		t.Errorf("connection over the cap read %q (err %v); want it closed with nothing", b, err)
	}

	close(release)
	for i, c := range held {
		b, err := io.ReadAll(c)
		if err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 200") {
			t.Errorf("held connection %d read %q, %v; want a 200", i, b, err)
		}
	}
	// Both held connections are closed now (Connection: close): the server
	// counts them out when their goroutines end, so poll with a bound.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		send(c)
		b, _ := io.ReadAll(c)
		c.Close()
		if strings.HasPrefix(string(b), "HTTP/1.1 200") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection admitted after the held ones closed")
		}
	}
}

// Per CONTRIBUTING.md: a nil option is ignored, and a nil value given to an
// option means its default.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	srv := httpkit.NewServer(":0", http.NotFoundHandler(), nil, httpkit.WithErrorLog(nil))
	if srv.ErrorLog != nil {
		t.Errorf("WithErrorLog(nil) set ErrorLog %v; want nil (net/http's default)", srv.ErrorLog)
	}
	if srv.ReadHeaderTimeout != httpkit.DefaultReadHeaderTimeout {
		t.Errorf("a nil option changed ReadHeaderTimeout to %v", srv.ReadHeaderTimeout)
	}
	rec := httptest.NewRecorder()
	httpkit.Tracing(nil, httpkit.WithTracerProvider(nil), httpkit.WithMeterProvider(nil), httpkit.WithPropagators(nil))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }),
	).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("Tracing with nil options: status %d; want 204", rec.Code)
	}
	var v struct{ A int }
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"A":1}`))
	req.Header.Set("Content-Type", "application/json")
	if err := httpkit.DecodeJSON(httptest.NewRecorder(), req, &v, nil); err != nil || v.A != 1 {
		t.Errorf("DecodeJSON with a nil option = %v, %+v; want nil, {A:1}", err, v)
	}
}
