// Package pglock provides a [tick.Locker] on PostgreSQL advisory locks, so
// that a job runs on one replica at a time using the database the replicas
// already share. [New] builds one from a *sql.DB; pass it to tick.WithLock:
//
//	db, err := sql.Open("pgx", dsn) // github.com/jackc/pgx/v5/stdlib
//	job := tick.Every("purge-notes", time.Hour, purge, tick.WithLock(pglock.New(db)))
//
// # Protocol
//
// Each run takes a connection from the pool and calls
// pg_try_advisory_lock(key) on it, where key is derived from the job name
// ([Key]); the connection stays with the run, and the lock is released with
// pg_advisory_unlock on that same connection (session locks belong to the
// session that took them). The lease's fencing token is txid_current() of
// the holding session, taken in the same statement: transaction ids only
// grow, so each later holder gets a larger token.
//
// Session locks need a session of their own: point db at PostgreSQL
// directly or through a pooler in session mode. Behind PgBouncer in
// transaction (or statement) mode, the lock and its unlock may land on
// different server sessions, and the lock does not exclude anything.
//
// # Failures
//
// There is no TTL: the lock lives exactly as long as the holding session.
// A connection that drops (a terminated backend, a network failure)
// releases the lock on the server, and the holder learns of it at once
// through pgx, so tick cancels its run. A replica that dies mid-run
// releases the lock when PostgreSQL notices its connection is gone: at once
// if the process died and the host closed the socket, otherwise after the
// server's TCP keepalive settings (tcp_keepalives_idle, _interval, _count);
// set them low if a replica's host may vanish. Another replica takes over
// at its next tick. A lease is not a perfect mutex (a holder may act on a
// stale view before it notices the loss): writes that must not interleave
// should carry the fencing token.
package pglock
