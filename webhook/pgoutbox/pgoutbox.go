// Package pgoutbox provides a [webhook.Outbox] on a PostgreSQL table, for
// at-least-once webhook delivery that survives restarts: a service enqueues
// a delivery in the same transaction as the change it announces, and every
// replica drains the table with [webhook.Sender.Deliver].
//
//	box := pgoutbox.New(db) // db: a *sql.DB on PostgreSQL (pgx's stdlib driver, say)
//	if err := box.CreateTable(ctx); err != nil { ... } // or run its DDL in your migrations
//
//	tx, _ := db.BeginTx(ctx, nil)
//	// ... the business change ...
//	box.Enqueue(ctx, tx, endpoint, webhook.Message{ID: "msg_" + ulid, Body: body})
//	tx.Commit()
//
//	// every few seconds, on every replica (a tick.Every job):
//	sender.Deliver(ctx, box, 100)
//
// Due claims rows with FOR UPDATE SKIP LOCKED and a lease (it moves their
// next_at forward), so replicas never claim the same row at once, and the
// rows of a replica that died come back when the lease ends. Set the lease
// above the client's per-attempt timeout times the batch size, or a slow
// pass lets another replica send a row again: delivery is at least once,
// and receivers deduplicate on webhook-id.
//
// Signing secrets are stored in the table in the clear; give the table the
// access rules of a secret store, or keep a reference in secrets and
// resolve it in a custom Outbox.
package pgoutbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/chassis-go/chassis/webhook"
)

// DefaultTable is the table of an Outbox built without WithTable.
const DefaultTable = "webhook_outbox"

// DefaultLease is how long Due hides a claimed row without WithLease.
const DefaultLease = 2 * time.Minute

// maxErrorText bounds the last_error column.
const maxErrorText = 1000

// Option configures [New].
type Option func(*Outbox)

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// WithTable sets the table name: lower-case letters, digits and
// underscores, at most 63, not starting with a digit (it is written into
// SQL, so nothing else is accepted). An empty name, like no option, means
// DefaultTable. Panics if name is invalid.
func WithTable(name string) Option {
	if name != "" && !identifier.MatchString(name) {
		panic(fmt.Sprintf("pgoutbox.WithTable: %q is not a plain lower-case identifier; use [a-z_][a-z0-9_]*", name))
	}
	return func(o *Outbox) {
		if name != "" {
			o.table = name
		}
	}
}

// WithLease sets how long Due hides a claimed row from other callers
// before it is due again (if its outcome was never recorded). Zero, like no
// option, means DefaultLease. Panics if d is negative.
func WithLease(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("pgoutbox.WithLease: d is negative (%v); use 0 for the default", d))
	}
	return func(o *Outbox) {
		if d != 0 {
			o.lease = d
		}
	}
}

// Outbox is a [webhook.Outbox] on a PostgreSQL table. Build one with
// [New]; the zero Outbox is not usable. It is safe for concurrent use, by
// any number of replicas.
type Outbox struct {
	db    *sql.DB
	table string
	lease time.Duration
}

var _ webhook.Outbox = (*Outbox)(nil)

// New returns an Outbox on db; nil options are ignored. It does not touch
// the database. Panics if db is nil.
func New(db *sql.DB, opts ...Option) *Outbox {
	if db == nil {
		panic("pgoutbox.New: db is nil; pass a *sql.DB on PostgreSQL")
	}
	o := &Outbox{db: db, table: DefaultTable, lease: DefaultLease}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o
}

// Table returns the table name.
func (o *Outbox) Table() string { return o.table }

// DDL returns the statements that create the table and its index, for
// migrations; CreateTable runs them.
func (o *Outbox) DDL() string {
	return `CREATE TABLE IF NOT EXISTS ` + o.table + ` (
    id           bigserial   PRIMARY KEY,
    msg_id       text        NOT NULL,
    url          text        NOT NULL,
    secrets      text        NOT NULL,
    body         bytea       NOT NULL,
    content_type text        NOT NULL DEFAULT '',
    attempts     int         NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL DEFAULT now(),
    done_at      timestamptz,
    gave_up      boolean     NOT NULL DEFAULT false,
    last_status  int,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ` + o.table + `_due ON ` + o.table + ` (next_at) WHERE done_at IS NULL;`
}

// CreateTable creates the table and its index if they do not exist.
func (o *Outbox) CreateTable(ctx context.Context) error {
	if _, err := o.db.ExecContext(ctx, o.DDL()); err != nil {
		return fmt.Errorf("pgoutbox: create table %s: %w", o.table, err)
	}
	return nil
}

// Execer is what Enqueue writes through: a *sql.Tx (the business
// transaction, which is the point), a *sql.Conn or a *sql.DB.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Enqueue adds a delivery of msg to ep, due at once, through tx: it is sent
// only if tx commits. It returns an error for a message without ID or an
// endpoint without secrets (secrets must not contain spaces, which
// whsec_ secrets never do).
func (o *Outbox) Enqueue(ctx context.Context, tx Execer, ep webhook.Endpoint, msg webhook.Message) error {
	if msg.ID == "" || len(ep.Secrets) == 0 {
		return errors.New("pgoutbox: enqueue: message without ID or endpoint without secrets")
	}
	for _, s := range ep.Secrets {
		if s == "" || strings.ContainsAny(s, " \t\n") {
			return errors.New("pgoutbox: enqueue: a secret is empty or contains white space")
		}
	}
	body := msg.Body
	if body == nil {
		body = []byte{}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO `+o.table+` (msg_id, url, secrets, body, content_type) VALUES ($1, $2, $3, $4, $5)`,
		msg.ID, ep.URL, strings.Join(ep.Secrets, " "), body, msg.ContentType)
	if err != nil {
		return fmt.Errorf("pgoutbox: enqueue: %w", err)
	}
	return nil
}

// Due implements [webhook.Outbox]: it claims up to n due rows, oldest due
// first, skipping rows other transactions hold, and moves their next_at
// forward by the lease.
func (o *Outbox) Due(ctx context.Context, n int) ([]webhook.Delivery, error) {
	rows, err := o.db.QueryContext(ctx, `UPDATE `+o.table+` SET next_at = now() + $2 * interval '1 millisecond'
WHERE id IN (SELECT id FROM `+o.table+` WHERE done_at IS NULL AND next_at <= now()
             ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, msg_id, url, secrets, body, content_type, attempts`, n, o.lease.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("pgoutbox: due: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var ds []webhook.Delivery
	for rows.Next() {
		var (
			id      int64
			secrets string
			d       webhook.Delivery
		)
		if err := rows.Scan(&id, &d.Message.ID, &d.Endpoint.URL, &secrets, &d.Message.Body, &d.Message.ContentType, &d.Attempts); err != nil {
			return nil, fmt.Errorf("pgoutbox: due: %w", err)
		}
		d.Key = strconv.FormatInt(id, 10)
		d.Endpoint.Secrets = strings.Fields(secrets)
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgoutbox: due: %w", err)
	}
	return ds, nil
}

// Delivered implements [webhook.Outbox]: the row is done.
func (o *Outbox) Delivered(ctx context.Context, d webhook.Delivery) error {
	_, err := o.db.ExecContext(ctx, `UPDATE `+o.table+` SET done_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1`, d.Key)
	if err != nil {
		return fmt.Errorf("pgoutbox: delivered: %w", err)
	}
	return nil
}

// Failed implements [webhook.Outbox]: the row is due again at next, or
// done and marked gave_up when next is zero. The status of a
// *webhook.DeliveryError and the error text (bounded) are kept.
func (o *Outbox) Failed(ctx context.Context, d webhook.Delivery, failure error, next time.Time) error {
	var status sql.NullInt64
	var de *webhook.DeliveryError
	if errors.As(failure, &de) && de.Status != 0 {
		status = sql.NullInt64{Int64: int64(de.Status), Valid: true}
	}
	text := ""
	if failure != nil {
		text = failure.Error()
	}
	if len(text) > maxErrorText {
		text = text[:maxErrorText]
	}
	var err error
	if next.IsZero() {
		_, err = o.db.ExecContext(ctx, `UPDATE `+o.table+` SET done_at = now(), gave_up = true, attempts = attempts + 1,
last_status = $2, last_error = $3 WHERE id = $1`, d.Key, status, text)
	} else {
		_, err = o.db.ExecContext(ctx, `UPDATE `+o.table+` SET next_at = $4, attempts = attempts + 1,
last_status = $2, last_error = $3 WHERE id = $1`, d.Key, status, text, next)
	}
	if err != nil {
		return fmt.Errorf("pgoutbox: failed: %w", err)
	}
	return nil
}

// Purge deletes the rows done before olderThan ago and returns how many.
// Run it now and then (a daily tick job) to bound the table.
func (o *Outbox) Purge(ctx context.Context, olderThan time.Duration) (int64, error) {
	res, err := o.db.ExecContext(ctx, `DELETE FROM `+o.table+` WHERE done_at < now() - $1 * interval '1 millisecond'`, olderThan.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("pgoutbox: purge: %w", err)
	}
	return res.RowsAffected()
}
