package pglock

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/chassis-go/chassis/tick"
)

// pingInterval is how often a lease held through a driver other than pgx
// checks its connection.
const pingInterval = time.Second

// acquireTimeout bounds Acquire: waiting for a pooled connection, dialing
// one, and the lock query.
const acquireTimeout = 10 * time.Second

// keyPrefix is prepended to the job name before hashing, so that the keys
// of tick jobs are unlikely to collide with advisory locks the application
// takes for other reasons.
const keyPrefix = "chassis/tick/"

// Locker grants [tick.Lease]s that are PostgreSQL session advisory locks.
// Build one with [New]; the zero Locker is not usable. It is safe for
// concurrent use, and one Locker may serve any number of jobs. It needs no
// closing.
type Locker struct {
	db *sql.DB
}

// New returns a Locker that takes advisory locks through db. Each held
// lease keeps one of db's connections for the length of the run, so allow
// for it in db.SetMaxOpenConns. db should use the pgx driver
// (github.com/jackc/pgx/v5/stdlib), which lets a lease notice at once that
// its connection dropped; with another driver the lease pings its
// connection every second instead (which notices a drop only if the driver
// implements driver.Pinger). Panics if db is nil.
func New(db *sql.DB) *Locker {
	if db == nil {
		panic("pglock.New: db is nil; pass the *sql.DB of the PostgreSQL database the replicas share")
	}
	return &Locker{db: db}
}

// Key returns the advisory lock key of the job called name: the first 8
// bytes, read big-endian as an int64, of the SHA-256 of "chassis/tick/"
// followed by name. Two job names that share a database must differ (a
// collision of distinct names is as unlikely as one of 64 random bits).
// The holder of a job's lock shows in pg_locks:
//
//	SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1
//	  AND (classid::bigint << 32 | objid::bigint) = <Key(name)>
func Key(name string) int64 {
	sum := sha256.Sum256([]byte(keyPrefix + name))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// lockQuery takes the lock without waiting and, only if it got it, draws a
// fencing token: txid_current() assigns the session a transaction id, and
// transaction ids only grow, so a later holder always gets a larger one.
const lockQuery = `SELECT CASE WHEN pg_try_advisory_lock($1) THEN txid_current() ELSE 0 END`

// Acquire takes the advisory lock of the job called name ([Key]) on a
// connection of its own if no session holds it, and returns a lease whose
// fencing token is a transaction id of the holding session; it returns an
// error matching [tick.ErrLocked] if another session holds it, and another
// error if the database cannot be reached within 10s (a pool wait and
// dial included) or ctx ends first.
//
// The lease holds the connection, and a goroutine watches it, until
// Release. If the connection drops (the server terminated the backend, the
// network failed) the lease's Lost channel closes at once: PostgreSQL has
// then ended the session and so released the lock.
func (l *Locker) Acquire(ctx context.Context, name string) (tick.Lease, error) {
	key := Key(name)
	ctx, cancel := context.WithTimeout(ctx, acquireTimeout)
	defer cancel()
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("pglock: acquire %q: %w", name, err)
	}
	var token int64
	if err := conn.QueryRowContext(ctx, lockQuery, key).Scan(&token); err != nil {
		// The lock may have been granted before the error: only the end of
		// the session is sure to release it.
		discard(conn)
		return nil, fmt.Errorf("pglock: acquire %q: %w", name, err)
	}
	if token == 0 {
		_ = conn.Close()
		return nil, fmt.Errorf("pglock: %q: %w", name, tick.ErrLocked)
	}
	ls := &lease{name: name, key: key, token: token, conn: conn,
		lost: make(chan struct{}), done: make(chan struct{})}
	// The watch runs on its own context: the lease outlives Acquire's ctx.
	var wctx context.Context
	wctx, ls.stop = context.WithCancel(context.WithoutCancel(ctx))
	go ls.watch(wctx)
	return ls, nil
}

// discard closes conn's underlying connection instead of returning it to
// the pool, which ends its session and every lock it holds.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

// errNotPgx reports a connection of another driver than pgx.
var errNotPgx = errors.New("pglock: not a pgx connection")

type lease struct {
	name  string
	key   int64
	token int64
	conn  *sql.Conn

	lost chan struct{}      // closed by watch when the connection dropped
	stop context.CancelFunc // ends watch
	done chan struct{}      // closed when watch returns
}

func (ls *lease) Token() int64          { return ls.token }
func (ls *lease) Lost() <-chan struct{} { return ls.lost }

// watch blocks reading the lease's connection until ctx is cancelled or
// the connection fails, and closes lost in the second case. With pgx it
// waits for a message from the server, which comes only when the session
// ends (a terminated backend sends its FATAL error, a dropped network
// fails the read); with another driver it pings every second.
func (ls *lease) watch(ctx context.Context) {
	defer close(ls.done)
	err := ls.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return errNotPgx
		}
		for {
			// nil is a NOTIFY (nobody LISTENs on this session, but be safe).
			if err := c.Conn().PgConn().WaitForNotification(ctx); err != nil {
				return err
			}
		}
	})
	if errors.Is(err, errNotPgx) {
		err = ls.ping(ctx)
	}
	if ctx.Err() == nil && err != nil {
		close(ls.lost)
	}
}

// ping checks the connection every pingInterval until ctx is cancelled or
// a ping fails, and returns the failure.
func (ls *lease) ping(ctx context.Context) error {
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := ls.conn.PingContext(ctx); err != nil {
			return err
		}
	}
}

// Release stops watching the connection, unlocks the advisory lock on it
// (the session that took it) and returns the connection to db's pool. If
// the unlock fails, or finds the lock not held, the connection is closed
// instead, which releases the lock in any case; Release then returns the
// error. A lease that was lost has no lock left: its connection is closed
// and Release returns nil. Call it once.
func (ls *lease) Release(ctx context.Context) error {
	ls.stop()
	<-ls.done
	select {
	case <-ls.lost:
		discard(ls.conn)
		return nil
	default:
	}
	var ok bool
	if err := ls.conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1)`, ls.key).Scan(&ok); err != nil {
		discard(ls.conn)
		return fmt.Errorf("pglock: release %q: %w", ls.name, err)
	}
	if !ok {
		discard(ls.conn)
		return fmt.Errorf("pglock: release %q: the session did not hold the lock", ls.name)
	}
	return ls.conn.Close()
}
