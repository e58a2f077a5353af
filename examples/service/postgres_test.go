package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestServiceWithPostgres keeps the notes in the real PostgreSQL at
// CHASSIS_POSTGRES_DSN (.ci/run sets it) and shows a note surviving a
// restart of the service. The test works in a schema of its own, dropped at
// the end, so it never touches other data.
func TestServiceWithPostgres(t *testing.T) {
	dsn := os.Getenv("CHASSIS_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CHASSIS_POSTGRES_DSN is not set: CI must run this test against the real PostgreSQL")
		}
		t.Skip("CHASSIS_POSTGRES_DSN is not set; skipping the test against a real PostgreSQL")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	schema := fmt.Sprintf("chassis_test_%016x", rand.Uint64())
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		_ = admin.Close(ctx)
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	env := []string{"DATABASE_URL=" + u.String(), "DRAIN_DELAY=0s"}

	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	stop := func(p *proc) {
		t.Helper()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-p.done:
			if err != nil {
				t.Fatalf("exit = %v; want 0\n%s", err, p.logs())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no exit within 30s of SIGTERM")
		}
	}

	first := startService(t, env...)
	c := client{t: t, base: "http://" + first.httpAddr, ip: "198.51.100.7", hc: hc}
	resp, body := c.do("POST", "/v1/notes", "application/json", `{"title":"kept","body":"across restarts"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create = %d %s; want 201", resp.StatusCode, body)
	}
	var created struct {
		ID      int64     `json:"id"`
		Created time.Time `json:"created"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.ID < 1 {
		t.Fatalf("create body %s: %v", body, err)
	}
	if resp, body := c.do("GET", "/readyz", "", ""); resp.StatusCode != 200 || !strings.Contains(string(body), `"notes-store"`) {
		t.Errorf("/readyz = %d %s; want 200 with the notes-store check", resp.StatusCode, body)
	}
	stop(first)

	second := startService(t, env...)
	c.base = "http://" + second.httpAddr
	resp, body = c.do("GET", fmt.Sprintf("/v1/notes/%d", created.ID), "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get after restart = %d %s; want 200", resp.StatusCode, body)
	}
	var got struct {
		Title   string    `json:"title"`
		Body    string    `json:"body"`
		Created time.Time `json:"created"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Title != "kept" || got.Body != "across restarts" || !got.Created.Equal(created.Created) {
		t.Errorf("note after restart = %+v; want the one created (%v)", got, created.Created)
	}
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM "+schema+".notes").Scan(&n); err != nil || n != 1 {
		t.Errorf("rows in %s.notes = %d, %v; want 1", schema, n, err)
	}
	stop(second)
}
