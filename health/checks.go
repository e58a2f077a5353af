package health

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// maxDrain is how much of an HTTPGet response body is read so that the
// connection can be reused; a longer body is abandoned and its connection
// closed.
const maxDrain = 64 << 10

// SQLPing returns a Check that calls db.PingContext, which opens a
// connection if the pool has none and verifies it. The check's error is the
// driver's. Panics if db is nil.
func SQLPing(db *sql.DB) Check {
	if db == nil {
		panic("health.SQLPing: db is nil; pass the *sql.DB the service uses")
	}
	return func(ctx context.Context) error { return db.PingContext(ctx) }
}

// HTTPGet returns a Check that sends GET rawURL with client (nil means
// http.DefaultClient; the check's timeout applies either way) and passes on a
// 2xx or 3xx status. A client that follows redirects, as the default one
// does, reports the final status. The response body is read (up to 64 KiB)
// and closed so the connection can be reused. Error texts name the URL
// without its user info or query. Panics if rawURL is not an absolute http
// or https URL.
func HTTPGet(client *http.Client, rawURL string) Check {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		panic(fmt.Sprintf("health.HTTPGet: %q is not an absolute http(s) URL; pass e.g. http://host:port/path", rawURL))
	}
	if client == nil {
		client = http.DefaultClient
	}
	shown := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return fmt.Errorf("health: GET %s: %w", shown, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			// The *url.Error from Do has the password redacted but may hold
			// the query; report the cause under the shown URL instead.
			if ue := (*url.Error)(nil); errors.As(err, &ue) {
				err = ue.Err
			}
			return fmt.Errorf("health: GET %s: %w", shown, err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		_ = resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 399 {
			return fmt.Errorf("health: GET %s: status %d", shown, resp.StatusCode)
		}
		return nil
	}
}

// TCPDial returns a Check that opens a TCP connection to addr ("host:port")
// and closes it at once, for dependencies with no cheaper probe. Panics if
// addr has no port.
func TCPDial(addr string) Check {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		panic(fmt.Sprintf("health.TCPDial: %q is not host:port; pass e.g. \"db.internal:5432\"", addr))
	}
	return func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("health: dial %s: %w", addr, err)
		}
		return conn.Close()
	}
}
