package main

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// noteStore keeps the notes. The in-memory store is the default, so the
// service runs with nothing else; with DATABASE_URL (or the standard PG*
// variables) the notes live in PostgreSQL. Both are safe for concurrent use.
type noteStore interface {
	create(ctx context.Context, in noteInput) (Note, error)
	get(ctx context.Context, id int64) (Note, error)
	delete(ctx context.Context, id int64) error
	// list returns up to limit notes in id order.
	list(ctx context.Context, limit int) ([]Note, error)
	// purge deletes the notes created before cutoff and returns how many.
	purge(ctx context.Context, cutoff time.Time) (int64, error)
	// ping reports whether the store can serve (the readiness check).
	ping(ctx context.Context) error
	close()
}

// memStore is the in-memory note store, bounded at maxNotes: when full, a
// create is answered 507 and the service stays ready for everything else.
type memStore struct {
	mu     sync.RWMutex
	nextID int64
	notes  map[int64]Note
	now    func() time.Time
}

func newMemStore() *memStore {
	return &memStore{notes: make(map[int64]Note), now: time.Now}
}

func (s *memStore) create(_ context.Context, in noteInput) (Note, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.notes) >= maxNotes {
		return Note{}, errStoreFull
	}
	s.nextID++
	n := Note{ID: s.nextID, Title: in.Title, Body: in.Body, Created: s.now().UTC().Truncate(time.Microsecond)}
	s.notes[n.ID] = n
	return n, nil
}

func (s *memStore) get(_ context.Context, id int64) (Note, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.notes[id]
	if !ok {
		return Note{}, errNoteNotFound
	}
	return n, nil
}

func (s *memStore) delete(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.notes[id]; !ok {
		return errNoteNotFound
	}
	delete(s.notes, id)
	return nil
}

func (s *memStore) list(_ context.Context, limit int) ([]Note, error) {
	s.mu.RLock()
	out := make([]Note, 0, len(s.notes))
	for _, n := range s.notes {
		out = append(out, n)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Note) int { return cmp.Compare(a.ID, b.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *memStore) purge(_ context.Context, cutoff time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, note := range s.notes {
		if note.Created.Before(cutoff) {
			delete(s.notes, id)
			n++
		}
	}
	return n, nil
}

func (s *memStore) ping(context.Context) error { return nil }
func (s *memStore) close()                     {}
