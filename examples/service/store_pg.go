package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// pgStore keeps the notes in PostgreSQL through a pgx pool.
type pgStore struct {
	pool *pgxpool.Pool
	reg  metric.Registration
}

// schema is applied on every start; each statement is idempotent, so a
// restart, or several replicas starting at once, migrate safely.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS notes (
		id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		title   TEXT        NOT NULL,
		body    TEXT        NOT NULL,
		created TIMESTAMPTZ NOT NULL DEFAULT now()
	)`,
	`CREATE INDEX IF NOT EXISTS notes_created ON notes (created)`,
}

// migrateLock is the advisory lock that serializes migrations of replicas
// starting together (CREATE ... IF NOT EXISTS can still race on catalogs).
const migrateLock = 0x6e6f746573 // "notes"

// newPGStore connects with dsn (empty means the standard PG* variables),
// applies the schema and exports the pool's connection counts on mp.
func newPGStore(ctx context.Context, dsn string, mp metric.MeterProvider) (*pgStore, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	s := &pgStore{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if s.reg, err = registerPoolMetrics(pool, mp); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func (s *pgStore) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
			return fmt.Errorf("database: migrate lock: %w", err)
		}
		for _, stmt := range schema {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("database: migrate: %w", err)
			}
		}
		return nil
	})
}

// registerPoolMetrics exports db.client.connection.count (by state, idle or
// used) and db.client.connection.max, the OpenTelemetry database client
// conventions, read from the pool's statistics at each collection.
func registerPoolMetrics(pool *pgxpool.Pool, mp metric.MeterProvider) (metric.Registration, error) {
	m := mp.Meter("github.com/chassis-go/chassis/examples/service")
	count, err := m.Int64ObservableUpDownCounter("db.client.connection.count",
		metric.WithUnit("{connection}"), metric.WithDescription("Connections in the pool, by state."))
	if err != nil {
		return nil, err
	}
	maxConns, err := m.Int64ObservableUpDownCounter("db.client.connection.max",
		metric.WithUnit("{connection}"), metric.WithDescription("The most connections the pool opens."))
	if err != nil {
		return nil, err
	}
	pool0 := attribute.String("db.client.connection.pool.name", "notes")
	idle := metric.WithAttributes(pool0, attribute.String("db.client.connection.state", "idle"))
	used := metric.WithAttributes(pool0, attribute.String("db.client.connection.state", "used"))
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := pool.Stat()
		o.ObserveInt64(count, int64(st.IdleConns()), idle)
		o.ObserveInt64(count, int64(st.AcquiredConns()), used)
		o.ObserveInt64(maxConns, int64(st.MaxConns()), metric.WithAttributes(pool0))
		return nil
	}, count, maxConns)
}

func (s *pgStore) create(ctx context.Context, in noteInput) (Note, error) {
	n := Note{Title: in.Title, Body: in.Body}
	err := s.pool.QueryRow(ctx,
		`INSERT INTO notes (title, body) SELECT $1, $2 WHERE (SELECT count(*) FROM notes) < $3 RETURNING id, created`,
		in.Title, in.Body, maxNotes).Scan(&n.ID, &n.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return Note{}, errStoreFull
	}
	n.Created = n.Created.UTC()
	return n, err
}

func (s *pgStore) get(ctx context.Context, id int64) (Note, error) {
	n := Note{ID: id}
	err := s.pool.QueryRow(ctx, `SELECT title, body, created FROM notes WHERE id = $1`, id).Scan(&n.Title, &n.Body, &n.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return Note{}, errNoteNotFound
	}
	n.Created = n.Created.UTC()
	return n, err
}

func (s *pgStore) delete(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM notes WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		return errNoteNotFound
	}
	return err
}

func (s *pgStore) list(ctx context.Context, limit int) ([]Note, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, title, body, created FROM notes ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	notes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Note, error) {
		var n Note
		err := row.Scan(&n.ID, &n.Title, &n.Body, &n.Created)
		n.Created = n.Created.UTC()
		return n, err
	})
	if notes == nil {
		notes = []Note{}
	}
	return notes, err
}

func (s *pgStore) purge(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM notes WHERE created < $1`, cutoff)
	return tag.RowsAffected(), err
}

func (s *pgStore) ping(ctx context.Context) error { return s.pool.Ping(ctx) }

func (s *pgStore) close() {
	if s.reg != nil {
		_ = s.reg.Unregister()
	}
	s.pool.Close()
}
