package pglock_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/chassis-go/chassis/tick/internal/locktest"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/chassis-go/chassis/tick"
	"github.com/chassis-go/chassis/tick/pglock"
)

// guard bounds the waits of a test so that a broken locker fails it
// instead of hanging it. It is never what a test expects to pass.
const guard = 10 * time.Second

// openDB opens a pool on CHASSIS_POSTGRES_DSN, closed at cleanup. Without
// the variable the test is skipped locally and fails under CI=true, which
// always provides it.
func openDB(t *testing.T) *sql.DB {
	t.Helper()
	dsn := os.Getenv("CHASSIS_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CHASSIS_POSTGRES_DSN is not set; CI must provide a PostgreSQL for the pglock tests")
		}
		t.Skip("CHASSIS_POSTGRES_DSN is not set; set it (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run the pglock tests")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatalf("ping %s: %v", dsn, err)
	}
	return db
}

// uniqueName returns a job name, and so a lock key, no other test uses.
func uniqueName(t *testing.T) string { return fmt.Sprintf("%s-%016x", t.Name(), rand.Uint64()) }

// holder returns the backend pid holding the advisory lock of name, or 0.
func holder(t *testing.T, db *sql.DB, name string) int {
	t.Helper()
	var pid int
	err := db.QueryRow(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1
		AND granted AND (classid::bigint << 32 | objid::bigint) = $1`, pglock.Key(name)).Scan(&pid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatalf("query pg_locks: %v", err)
	}
	return pid
}

func TestKey(t *testing.T) {
	sum := sha256.Sum256([]byte("chassis/tick/purge-notes"))
	if got, want := pglock.Key("purge-notes"), int64(binary.BigEndian.Uint64(sum[:8])); got != want {
		t.Errorf("Key(purge-notes) = %d; want %d", got, want)
	}
	if pglock.Key("a") == pglock.Key("b") {
		t.Error("Key(a) == Key(b)")
	}
}

func TestAcquireRelease(t *testing.T) {
	ctx := context.Background()
	dbA, dbB := openDB(t), openDB(t)
	a, b := pglock.New(dbA), pglock.New(dbB)
	name := uniqueName(t)

	la, err := a.Acquire(ctx, name)
	if err != nil {
		t.Fatalf("A.Acquire() = %v", err)
	}
	if la.Token() <= 0 {
		t.Errorf("Token() = %d; want > 0", la.Token())
	}
	if holder(t, dbB, name) == 0 {
		t.Error("pg_locks shows no holder of the lock while A holds it")
	}
	if _, err := b.Acquire(ctx, name); !errors.Is(err, tick.ErrLocked) {
		t.Errorf("B.Acquire() while A holds = %v; want ErrLocked", err)
	}
	// Another job's lock is independent.
	lo, err := b.Acquire(ctx, name+"-other")
	if err != nil {
		t.Fatalf("B.Acquire(other) = %v", err)
	}
	if err := lo.Release(ctx); err != nil {
		t.Errorf("Release(other) = %v", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatalf("A.Release() = %v", err)
	}
	if pid := holder(t, dbB, name); pid != 0 {
		t.Errorf("pg_locks shows backend %d holding the lock after Release", pid)
	}
	lb, err := b.Acquire(ctx, name)
	if err != nil {
		t.Fatalf("B.Acquire() after A's Release = %v", err)
	}
	if lb.Token() <= la.Token() {
		t.Errorf("B's Token() = %d; want more than A's %d", lb.Token(), la.Token())
	}
	if err := lb.Release(ctx); err != nil {
		t.Errorf("B.Release() = %v", err)
	}
	select {
	case <-lb.Lost():
		t.Error("Release closed Lost; want it left open")
	default:
	}
}

// The connection that held a lock goes back to the pool without it, and
// is reused.
func TestReleasedConnIsClean(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	db.SetMaxOpenConns(1)
	l := pglock.New(db)
	name := uniqueName(t)
	for range 3 { // one connection: each Acquire reuses it
		ls, err := l.Acquire(ctx, name)
		if err != nil {
			t.Fatalf("Acquire() = %v", err)
		}
		if err := ls.Release(ctx); err != nil {
			t.Fatalf("Release() = %v", err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the pooled connection holds %d advisory locks; want 0", n)
	}
}

// Terminating the holder's backend (a dropped connection) cancels its run
// at once with ErrLeaseLost, and another replica can take over at once.
func TestTerminatedBackendCancelsRun(t *testing.T) {
	t.Run("pgx", func(t *testing.T) { testTerminated(t, openDB(t)) })
	// Through another driver the lease pings its connection instead.
	t.Run("other driver", func(t *testing.T) {
		openDB(t) // skips or fails without a DSN
		db := sql.OpenDB(otherConnector{os.Getenv("CHASSIS_POSTGRES_DSN")})
		t.Cleanup(func() { _ = db.Close() })
		testTerminated(t, db)
	})
}

func testTerminated(t *testing.T, db *sql.DB) {
	ctx := context.Background()
	admin := openDB(t)
	name := uniqueName(t)
	failed := make(chan slog.Record, 1)
	entered := make(chan context.Context)
	job := tick.Every(name, time.Hour, func(ctx context.Context) error {
		entered <- ctx
		<-ctx.Done()
		return ctx.Err()
	}, tick.WithLock(pglock.New(db)), tick.WithLogger(slog.New(locktest.RecordHandler(failed))))
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- job.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v; want context.Canceled", err)
		}
	}()

	fnCtx := <-entered
	pid := holder(t, admin, name)
	if pid == 0 {
		t.Fatal("no holder of the lock during the run")
	}
	if _, err := admin.Exec(`SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatalf("pg_terminate_backend(%d): %v", pid, err)
	}
	select {
	case <-fnCtx.Done():
	case <-time.After(guard):
		t.Fatal("run not cancelled after its backend was terminated")
	}
	if cause := context.Cause(fnCtx); cause != tick.ErrLeaseLost {
		t.Errorf("context.Cause(run) = %v; want ErrLeaseLost", cause)
	}
	select {
	case <-failed:
	case <-time.After(guard):
		t.Fatal("failed run not logged")
	}
	if st := job.Status(); !errors.Is(st.LastError, tick.ErrLeaseLost) {
		t.Errorf("Status().LastError = %v; want ErrLeaseLost", st.LastError)
	}
	// The session ends, and its lock is free for another replica. The
	// lease learns of the termination from the backend's notice, which it
	// sends before it exits and releases its locks: wait for the release.
	for end := time.Now().Add(guard); holder(t, admin, name) == pid; {
		if time.Now().After(end) {
			t.Fatalf("backend %d still holds the lock %v after it was terminated", pid, guard)
		}
		time.Sleep(5 * time.Millisecond)
	}
	other, err := pglock.New(admin).Acquire(ctx, name)
	if err != nil {
		t.Fatalf("Acquire() by another replica after the holder's session ended = %v", err)
	}
	if err := other.Release(ctx); err != nil {
		t.Errorf("Release() = %v", err)
	}
}

// otherConnector opens pgx connections hidden behind a type that is not
// *stdlib.Conn, as another driver's would be.
type otherConnector struct{ dsn string }

type pgxConn interface {
	driver.Conn
	driver.Pinger
	driver.QueryerContext
	driver.ExecerContext
	driver.ConnBeginTx
	driver.SessionResetter
}

type otherConn struct{ pgxConn }

func (c otherConnector) Connect(context.Context) (driver.Conn, error) {
	dc, err := stdlib.GetDefaultDriver().Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return otherConn{dc.(pgxConn)}, nil
}

func (c otherConnector) Driver() driver.Driver { return stdlib.GetDefaultDriver() }

// Two replicas of a job never run at the same time, and the fencing
// tokens increase run after run.
func TestTwoReplicasNeverOverlap(t *testing.T) {
	locktest.NeverOverlap(t, uniqueName(t), func() tick.Locker { return pglock.New(openDB(t)) })
}

func TestAcquireErrors(t *testing.T) {
	db := openDB(t)
	l := pglock.New(db)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Acquire(ctx, uniqueName(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire(cancelled ctx) = %v; want context.Canceled", err)
	}
	_ = db.Close()
	if _, err := l.Acquire(context.Background(), uniqueName(t)); err == nil || errors.Is(err, tick.ErrLocked) {
		t.Errorf("Acquire() on a closed db = %v; want an error other than ErrLocked", err)
	}
}

func TestNewPanics(t *testing.T) {
	defer func() {
		const want = "pglock.New: db is nil; "
		if msg, _ := recover().(string); len(msg) < len(want) || msg[:len(want)] != want {
			t.Errorf("panic = %q; want prefix %q", msg, want)
		}
	}()
	pglock.New(nil)
}
