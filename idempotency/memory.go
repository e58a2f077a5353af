package idempotency

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultMaxKeys is the number of records a [MemoryStore] holds without the
// MaxKeys option.
const DefaultMaxKeys = 10000

// MemoryOption configures [NewMemoryStore].
type MemoryOption func(*memoryOptions)

type memoryOptions struct {
	maxKeys int
	now     func() time.Time
}

// MaxKeys bounds the number of records (in flight and done) a MemoryStore
// holds; see [MemoryStore] for what happens at the bound. Without this option
// the bound is DefaultMaxKeys. Panics if n is less than 1.
func MaxKeys(n int) MemoryOption {
	if n < 1 {
		panic(fmt.Sprintf("idempotency.MaxKeys: n must be at least 1, got %d", n))
	}
	return func(o *memoryOptions) { o.maxKeys = n }
}

// WithClock sets the clock that expires locks and records. A nil now, like
// no option, means time.Now.
func WithClock(now func() time.Time) MemoryOption {
	return func(o *memoryOptions) { o.now = now }
}

// MemoryStore is a [Store] in process memory, for a single replica (use
// idempotency/redisstore when several replicas serve the same clients).
// Build one with [NewMemoryStore]; the zero MemoryStore is not usable. It is
// safe for concurrent use.
//
// It holds at most MaxKeys records. Expired locks and records are dropped
// when met and, oldest first, whenever room is needed. When the store is full
// of live records, a new key evicts the oldest completed record (its client
// loses only the replay, and a retry then runs again, as after retention);
// in-flight records are never evicted, since evicting one would let a
// duplicate run concurrently. When every record is in flight, Acquire
// returns [ErrFull] and the request is refused with 503 until a lock ends.
type MemoryStore struct {
	now func() time.Time
	max int

	mu       sync.Mutex
	m        map[string]*memEntry
	inflight list.List // of *memEntry, in order of acquisition
	done     list.List // of *memEntry, in order of completion
}

type memEntry struct {
	key     string
	token   string
	rec     Record
	expires time.Time
	elem    *list.Element
}

// NewMemoryStore returns an empty MemoryStore configured by opts (nil options
// are ignored).
func NewMemoryStore(opts ...MemoryOption) *MemoryStore {
	o := memoryOptions{maxKeys: DefaultMaxKeys}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.now == nil {
		o.now = time.Now
	}
	return &MemoryStore{now: o.now, max: o.maxKeys, m: make(map[string]*memEntry)}
}

var _ Store = (*MemoryStore)(nil)

// Acquire implements [Store]. It never blocks and ignores ctx.
func (s *MemoryStore) Acquire(_ context.Context, key, token, fingerprint string, lockTTL time.Duration) (Record, bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok {
		if now.Before(e.expires) {
			return e.rec, false, nil
		}
		s.remove(e)
	}
	if len(s.m) >= s.max && !s.makeRoom(now) {
		return Record{}, false, ErrFull
	}
	e := &memEntry{key: key, token: token, rec: Record{Fingerprint: fingerprint}, expires: now.Add(lockTTL)}
	e.elem = s.inflight.PushBack(e)
	s.m[key] = e
	return Record{}, true, nil
}

// Complete implements [Store]. It never blocks and ignores ctx.
func (s *MemoryStore) Complete(_ context.Context, key, token string, rec Record, retention time.Duration) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok || e.token != token || e.rec.Done || !now.Before(e.expires) {
		return ErrLockLost
	}
	s.inflight.Remove(e.elem)
	rec.Done = true
	e.rec = rec
	e.expires = now.Add(retention)
	e.elem = s.done.PushBack(e)
	return nil
}

// Release implements [Store]. It never blocks and ignores ctx.
func (s *MemoryStore) Release(_ context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok && e.token == token && !e.rec.Done {
		s.remove(e)
	}
	return nil
}

// Len reports the number of records held, expired ones not yet dropped
// included.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// makeRoom frees one slot, reporting whether it could: expired entries
// first (from the front of each list, then anywhere among in-flight ones),
// then the oldest completed record. s.mu is held.
func (s *MemoryStore) makeRoom(now time.Time) bool {
	freed := false
	for _, l := range []*list.List{&s.done, &s.inflight} {
		for f := l.Front(); f != nil; f = l.Front() {
			e := f.Value.(*memEntry)
			if now.Before(e.expires) {
				break
			}
			s.remove(e)
			freed = true
		}
	}
	if freed {
		return true
	}
	if f := s.done.Front(); f != nil {
		s.remove(f.Value.(*memEntry))
		return true
	}
	// Only in-flight records remain. Lock TTLs may differ between callers,
	// so an expired lock may hide behind a live one: look at them all (this
	// happens only when the store is full of in-flight requests).
	for el := s.inflight.Front(); el != nil; el = el.Next() {
		if e := el.Value.(*memEntry); !now.Before(e.expires) {
			s.remove(e)
			return true
		}
	}
	return false
}

func (s *MemoryStore) remove(e *memEntry) {
	if e.rec.Done {
		s.done.Remove(e.elem)
	} else {
		s.inflight.Remove(e.elem)
	}
	delete(s.m, e.key)
}
