package health_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/health"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver for the PostgreSQL test
)

// fakeConnector is a database/sql connector whose connections answer Ping
// with pingErr. sql.OpenDB takes it directly, so no driver is registered.
type fakeConnector struct {
	pingErr error
	pings   atomic.Int64
}

func (c *fakeConnector) Connect(context.Context) (driver.Conn, error) { return &fakeConn{c}, nil }
func (c *fakeConnector) Driver() driver.Driver                        { return fakeDriver{c} }

type fakeDriver struct{ c *fakeConnector }

func (d fakeDriver) Open(string) (driver.Conn, error) { return &fakeConn{d.c}, nil }

type fakeConn struct{ c *fakeConnector }

func (f *fakeConn) Ping(ctx context.Context) error {
	f.c.pings.Add(1)
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.c.pingErr
}
func (f *fakeConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("fake: unsupported") }
func (f *fakeConn) Close() error                        { return nil }
func (f *fakeConn) Begin() (driver.Tx, error)           { return nil, errors.New("fake: unsupported") }

var _ driver.Pinger = (*fakeConn)(nil)

func TestSQLPing_fakeDriver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pingErr error
		wantErr error
	}{
		{"up", nil, nil},
		{"down", errBoom, errBoom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fc := &fakeConnector{pingErr: tc.pingErr}
			db := sql.OpenDB(fc)
			defer db.Close()
			err := health.SQLPing(db)(context.Background())
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("SQLPing(db)(ctx) = %v; want %v", err, tc.wantErr)
			}
			if fc.pings.Load() == 0 {
				t.Errorf("SQLPing(db)(ctx) did not ping")
			}
		})
	}
}

func TestSQLPing_postgres(t *testing.T) {
	t.Parallel()
	dsn := os.Getenv("CHASSIS_POSTGRES_DSN")
	if dsn == "" {
		// CI must test against a real server; a plain local go test may not.
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but CHASSIS_POSTGRES_DSN is not set; .ci/run must provide PostgreSQL")
		}
		t.Skip("CHASSIS_POSTGRES_DSN not set; set it (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to test SQLPing against PostgreSQL")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("sql.Open(pgx, %q) = %v", dsn, err)
	}
	defer db.Close()

	c := health.New(health.DefaultCheckTimeout(10 * time.Second))
	c.Add("postgres", health.SQLPing(db))
	if r := c.Run(context.Background()); r.Status != health.StatusUp {
		t.Errorf("Run() with PostgreSQL = %+v; want up", r)
	}

	// A server that is not there is down, not an error of the Checker.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	bad, err := sql.Open("pgx", fmt.Sprintf("postgres://postgres@%s/test?sslmode=disable&connect_timeout=5", addr))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	c2 := health.New(health.DefaultCheckTimeout(10 * time.Second))
	c2.Add("postgres", health.SQLPing(bad))
	if r := c2.Run(context.Background()); r.Status != health.StatusDown || r.Checks[0].Err == nil {
		t.Errorf("Run() with no server = %+v; want down with an error", r)
	}
}

func TestHTTPGet(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, strings.Repeat("x", 10_000)) // must be drained for reuse
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, "nope", http.StatusInternalServerError)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	client := srv.Client()
	noFollow := &http.Client{
		Transport:     client.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()

	tests := []struct {
		name    string
		client  *http.Client
		path    string
		wantErr string
	}{
		{"200", client, "/ok", ""},
		{"204", client, "/nocontent", ""},
		{"302 followed", client, "/redirect", ""},
		{"302 not followed", noFollow, "/redirect", ""},
		{"500", client, "/fail", "status 500"},
		{"404 default client", nil, "/fail", "status 500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := health.HTTPGet(tc.client, srv.URL+tc.path)(context.Background())
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("HTTPGet(%s)(ctx) = %v; want %q", tc.path, err, tc.wantErr)
			}
		})
	}
	http.DefaultClient.CloseIdleConnections()

	// Sequential checks on one client reuse one connection: bodies are
	// drained and closed.
	before := conns.Load()
	check := health.HTTPGet(client, srv.URL+"/ok")
	for range 5 {
		if err := check(context.Background()); err != nil {
			t.Fatalf("HTTPGet(/ok)(ctx) = %v; want nil", err)
		}
	}
	if got := conns.Load() - before; got > 1 {
		t.Errorf("5 sequential checks opened %d connections; want at most 1", got)
	}
}

func TestHTTPGet_errorTextHidesSecrets(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()
	host := strings.TrimPrefix(srv.URL, "http://")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	l.Close()

	for _, u := range []string{
		"http://user:hunter2@" + host + "/status?token=s3cret",
		"http://user:hunter2@" + closedAddr + "/status?token=s3cret",
	} {
		err := health.HTTPGet(srv.Client(), u)(context.Background())
		if err == nil {
			t.Fatalf("HTTPGet(%s)(ctx) = nil; want an error", u)
		}
		if msg := err.Error(); strings.Contains(msg, "hunter2") || strings.Contains(msg, "s3cret") || !strings.Contains(msg, "/status") {
			t.Errorf("HTTPGet(%s) error = %q; want the path without password or query", u, msg)
		}
	}
}

func TestHTTPGet_timeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := health.New()
	c.Add("api", health.HTTPGet(srv.Client(), srv.URL), health.Timeout(10*time.Millisecond))
	r := c.Run(context.Background())
	if r.Status != health.StatusDown || !errors.Is(r.Checks[0].Err, health.ErrTimeout) {
		t.Errorf("Run() with a hanging server = %v, %v; want down, ErrTimeout", r.Status, r.Checks[0].Err)
	}
}

func TestTCPDial(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	up := l.Addr().String()
	if err := health.TCPDial(up)(context.Background()); err != nil {
		t.Errorf("TCPDial(%s)(ctx) = %v; want nil", up, err)
	}
	l.Close()
	<-accepted
	err = health.TCPDial(up)(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "health: dial "+up) {
		t.Errorf("TCPDial(%s)(ctx) after close = %v; want a dial error", up, err)
	}
}
