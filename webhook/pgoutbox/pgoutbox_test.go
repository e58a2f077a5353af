package pgoutbox_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/webhook"
	"github.com/chassis-go/chassis/webhook/pgoutbox"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// openBox opens CHASSIS_POSTGRES_DSN and creates an Outbox on a table of
// its own, dropped at cleanup. Without the variable the test is skipped
// locally and fails under CI=true, which always provides it.
func openBox(t *testing.T, opts ...pgoutbox.Option) (*sql.DB, *pgoutbox.Outbox) {
	t.Helper()
	dsn := os.Getenv("CHASSIS_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CHASSIS_POSTGRES_DSN is not set; CI must provide a PostgreSQL for the pgoutbox tests")
		}
		t.Skip("CHASSIS_POSTGRES_DSN is not set; set it (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run the pgoutbox tests")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	table := fmt.Sprintf("webhook_outbox_test_%016x", rand.Uint64())
	box := pgoutbox.New(db, append([]pgoutbox.Option{pgoutbox.WithTable(table)}, opts...)...)
	ctx := context.Background()
	if err := box.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.ExecContext(context.Background(), "DROP TABLE "+table); err != nil {
			t.Errorf("drop %s: %v", table, err)
		}
	})
	return db, box
}

type row struct {
	attempts   int
	done       bool
	gaveUp     bool
	lastStatus sql.NullInt64
	dueIn      time.Duration // next_at - now()
}

func readRow(t *testing.T, db *sql.DB, box *pgoutbox.Outbox, msgID string) row {
	t.Helper()
	var r row
	var secs float64
	err := db.QueryRow(`SELECT attempts, done_at IS NOT NULL, gave_up, last_status, EXTRACT(EPOCH FROM next_at - now())
FROM `+box.Table()+` WHERE msg_id = $1`, msgID).Scan(&r.attempts, &r.done, &r.gaveUp, &r.lastStatus, &secs)
	if err != nil {
		t.Fatalf("read %s: %v", msgID, err)
	}
	r.dueIn = time.Duration(secs * float64(time.Second))
	return r
}

func sender(t *testing.T) *webhook.Sender {
	c := call.New(call.WithTransport(webhook.NewTransport(webhook.AllowLoopback())))
	t.Cleanup(c.CloseIdleConnections)
	return webhook.NewSender(c, webhook.WithSchedule(time.Hour, 2*time.Hour))
}

func TestDeliver(t *testing.T) {
	db, box := openBox(t)
	ctx := context.Background()
	v, _ := webhook.NewVerifier(secret)
	var got sync.Map
	mux := http.NewServeMux()
	mux.Handle("POST /ok", v.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get(webhook.HeaderID), true)
	})))
	mux.HandleFunc("POST /down", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	mux.HandleFunc("POST /gone", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(410) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ep := func(path string) webhook.Endpoint {
		return webhook.Endpoint{URL: srv.URL + path, Secrets: []string{secret}}
	}

	// A rolled-back transaction enqueues nothing; a committed one does.
	for _, commit := range []bool{false, true} {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("msg_commit_%v", commit)
		if err := box.Enqueue(ctx, tx, ep("/ok"), webhook.Message{ID: id, Body: []byte(`{"n":1}`)}); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []struct{ id, path string }{{"msg_down", "/down"}, {"msg_gone", "/gone"}} {
		if err := box.Enqueue(ctx, db, ep(m.path), webhook.Message{ID: m.id, Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}

	s := sender(t)
	n, err := s.Deliver(ctx, box, 10)
	if n != 1 || err != nil {
		t.Fatalf("Deliver = %d, %v; want 1, nil", n, err)
	}
	if _, ok := got.Load("msg_commit_true"); !ok {
		t.Error("the committed message was not received")
	}
	if _, ok := got.Load("msg_commit_false"); ok {
		t.Error("the rolled-back message was sent")
	}
	if r := readRow(t, db, box, "msg_commit_true"); !r.done || r.gaveUp || r.attempts != 1 {
		t.Errorf("delivered row = %+v; want done after 1 attempt", r)
	}
	if r := readRow(t, db, box, "msg_down"); r.done || r.attempts != 1 || r.lastStatus.Int64 != 503 || r.dueIn < 55*time.Minute || r.dueIn > 67*time.Minute {
		t.Errorf("failing row = %+v; want pending, 1 attempt, status 503, due in about 1h", r)
	}
	if r := readRow(t, db, box, "msg_gone"); !r.done || !r.gaveUp || r.lastStatus.Int64 != 410 {
		t.Errorf("gone row = %+v; want given up with status 410", r)
	}
	// Nothing is due now.
	if n, err := s.Deliver(ctx, box, 10); n != 0 || err != nil {
		t.Errorf("second Deliver = %d, %v; want 0, nil", n, err)
	}
	// Done rows are purged; the pending one stays.
	if n, err := box.Purge(ctx, -time.Hour); n != 2 || err != nil {
		t.Errorf("Purge = %d, %v; want 2, nil", n, err)
	}
}

// TestDueClaims checks two replicas calling Due at once never get the same
// row, a claimed row is hidden until its lease ends, and an expired lease
// gives it back.
func TestDueClaims(t *testing.T) {
	db, box := openBox(t)
	ctx := context.Background()
	const rows = 40
	for i := range rows {
		if err := box.Enqueue(ctx, db, webhook.Endpoint{URL: "http://example.test/", Secrets: []string{secret}},
			webhook.Message{ID: fmt.Sprintf("msg_%d", i), Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var total atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				ds, err := box.Due(ctx, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.Message.ID]++
					if !slices.Equal(d.Endpoint.Secrets, []string{secret}) || string(d.Message.Body) != "{}" {
						t.Errorf("claimed delivery %+v does not round-trip", d)
					}
				}
				mu.Unlock()
				total.Add(int64(len(ds)))
			}
		})
	}
	wg.Wait()
	if total.Load() != rows || len(seen) != rows {
		t.Fatalf("claimed %d rows, %d distinct; want %d, each once", total.Load(), len(seen), rows)
	}
	// The lease hides them; once it ends (simulated by moving next_at back),
	// they are due again.
	if ds, _ := box.Due(ctx, 100); len(ds) != 0 {
		t.Errorf("Due during the lease = %d rows; want 0", len(ds))
	}
	if _, err := db.ExecContext(ctx, `UPDATE `+box.Table()+` SET next_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if ds, _ := box.Due(ctx, 100); len(ds) != rows {
		t.Errorf("Due after the lease = %d rows; want %d", len(ds), rows)
	}
}

func TestEnqueueErrors(t *testing.T) {
	db, box := openBox(t)
	ctx := context.Background()
	for _, tc := range []struct {
		ep  webhook.Endpoint
		msg webhook.Message
	}{
		{webhook.Endpoint{URL: "http://x/", Secrets: []string{secret}}, webhook.Message{}},
		{webhook.Endpoint{URL: "http://x/"}, webhook.Message{ID: "m"}},
		{webhook.Endpoint{URL: "http://x/", Secrets: []string{"a b"}}, webhook.Message{ID: "m"}},
	} {
		if err := box.Enqueue(ctx, db, tc.ep, tc.msg); err == nil {
			t.Errorf("Enqueue(%+v, %+v) = nil; want an error", tc.ep, tc.msg)
		}
	}
	if err := box.Failed(ctx, webhook.Delivery{Key: "1"}, errors.New(strings.Repeat("x", 5000)), time.Time{}); err != nil {
		t.Errorf("Failed on a missing row with a long error = %v; want nil", err)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	db, _ := sql.Open("pgx", "postgres://unused")
	defer func() { _ = db.Close() }()
	if got := pgoutbox.New(db, nil, pgoutbox.WithTable(""), pgoutbox.WithLease(0)).Table(); got != pgoutbox.DefaultTable {
		t.Errorf("Table() with nil and empty options = %q; want %q", got, pgoutbox.DefaultTable)
	}
	for _, tc := range []struct {
		f    func()
		want string
	}{
		{func() { pgoutbox.WithTable("x; DROP TABLE y") }, `pgoutbox.WithTable: "x; DROP TABLE y" is not a plain lower-case identifier`},
		{func() { pgoutbox.WithLease(-1) }, "pgoutbox.WithLease: d is negative"},
		{func() { pgoutbox.New(nil) }, "pgoutbox.New: db is nil"},
	} {
		func() {
			defer func() {
				if got, _ := recover().(string); !strings.HasPrefix(got, tc.want) {
					t.Errorf("panic = %q; want prefix %q", got, tc.want)
				}
			}()
			tc.f()
		}()
	}
}
