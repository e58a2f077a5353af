package main

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"

	"github.com/chassis-go/chassis/cache"
	"github.com/chassis-go/chassis/cache/rediscache"
)

// cachedStore puts a read-through cache in front of a noteStore's get: one
// load per note at a time however many clients ask at once, bounded memory,
// and, when the replicas share a Redis, a second tier there with deletes
// invalidating every replica's copy. Notes never change once created, so
// the only invalidation needed is on delete (and on purge, see purge).
type cachedStore struct {
	noteStore
	local  *cache.Cache[int64, Note] // without Redis
	shared *rediscache.Cache[Note]   // with Redis
}

// noteCacheTTL bounds how long a replica may serve a note another replica
// deleted if it missed the invalidation message (they are best effort).
const noteCacheTTL = 30 * time.Second

func newCachedStore(s noteStore, rdb redis.UniversalClient, mp metric.MeterProvider, logger *slog.Logger) *cachedStore {
	local := cache.Config[int64, Note]{Name: "notes", MaxEntries: 10_000, TTL: noteCacheTTL, MeterProvider: mp, Logger: logger}
	if rdb == nil {
		return &cachedStore{noteStore: s, local: cache.New(local)}
	}
	return &cachedStore{noteStore: s, shared: rediscache.New(rdb, rediscache.Config[Note]{
		Local:         cache.Config[string, Note]{Name: "notes", MaxEntries: 10_000, TTL: noteCacheTTL},
		TTL:           10 * time.Minute,
		MeterProvider: mp,
		Logger:        logger,
	})}
}

func (s *cachedStore) get(ctx context.Context, id int64) (Note, error) {
	if s.local != nil {
		return s.local.GetOrLoad(ctx, id, s.noteStore.get)
	}
	return s.shared.GetOrLoad(ctx, strconv.FormatInt(id, 10), func(ctx context.Context, _ string) (Note, error) {
		return s.noteStore.get(ctx, id)
	})
}

func (s *cachedStore) delete(ctx context.Context, id int64) error {
	if err := s.noteStore.delete(ctx, id); err != nil {
		return err
	}
	if s.local != nil {
		s.local.Delete(id)
		return nil
	}
	// A failed invalidation is logged and counted by rediscache; the note
	// is gone from the store, and copies expire within the TTLs.
	_ = s.shared.Delete(ctx, strconv.FormatInt(id, 10))
	return nil
}

// purge deletes old notes from the store. The in-process cache is cleared
// with them; the shared tier has no bulk invalidation, so a purged note may
// still be served from it until its TTL ends (purged notes are old ones
// nobody changed, and nothing depends on their absence).
func (s *cachedStore) purge(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := s.noteStore.purge(ctx, cutoff)
	if n > 0 && s.local != nil {
		s.local.Clear()
	}
	return n, err
}

// stats reports the cache for the admin page.
func (s *cachedStore) stats() any {
	if s.local != nil {
		return s.local.Stats()
	}
	return s.shared.Stats()
}

func (s *cachedStore) close() {
	if s.local != nil {
		s.local.Close()
	} else {
		s.shared.Close()
	}
	s.noteStore.close()
}
