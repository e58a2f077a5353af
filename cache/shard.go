package cache

import (
	"sync"
	"sync/atomic"
)

// This file holds one shard: a hash table that readers search without a
// lock, and the S3-FIFO queues that writers maintain under the shard's lock.
//
// # The table
//
// Buckets are atomic pointers to chains of immutable nodes; an entry's key,
// value and expiry never change after it is published. A writer (holding
// mu) replaces a bucket's chain copy-on-write: a new entry goes in front; a
// removal copies the nodes before the removed one and shares the rest. A
// reader loads the table, then the bucket, and walks a chain nobody will
// modify, so it sees either the old chain or the new one, never a mix.
// Growing builds a complete new table and publishes it with one store;
// readers still on the old table see a consistent, briefly stale snapshot.
//
// # S3-FIFO
//
// Eviction follows S3-FIFO (Yang et al., SOSP 2023). Entries live in one of
// two FIFO queues, linked through the entries under mu: small (a tenth of
// the capacity) for newcomers and main for the rest, plus a ghost set that
// remembers the hashes of entries recently evicted from small. A read only
// bumps the entry's 2-bit frequency (an atomic add that stops at 3, so hot
// entries are read-only). Eviction, on insertion into a full shard:
//
//   - while small holds more than its tenth (or main is empty), take small's
//     oldest entry: if it was read since insertion it moves to main,
//     otherwise it is evicted and its hash joins the ghost set;
//   - otherwise take main's oldest entry: if its frequency is above zero it
//     goes back to the head of main with the frequency decremented,
//     otherwise it is evicted.
//
// A new key whose hash is in the ghost set goes straight to main. Entries
// past their stale-serving window are evicted whenever they are reached,
// whatever their frequency. Each step is O(1) amortized: a main entry can
// be reinserted at most three times before its frequency reaches zero.

// maxFreq caps an entry's access frequency.
const maxFreq = 3

// Queue membership of an entry.
const (
	inNone uint8 = iota
	inSmall
	inMain
)

// entry is one key's value. Its fields are ordered to keep it small: with
// 8-byte keys and values it fits an 80-byte allocation.
type entry[K comparable, V any] struct {
	// Immutable once published.
	key     K
	val     V
	neg     *negative // non-nil: a cached not-found result
	hash    uint64
	cost    int64
	expires int64 // clock nanos (see Cache.nanos) when it stops being fresh; never

	freq  atomic.Int32
	queue uint8 // guarded by shard.mu

	// Guarded by shard.mu.
	prev, next *entry[K, V] // FIFO links: next is toward the tail (older)
}

// negative is a cached not-found result: the error the load returned.
type negative struct{ err error }

// dead reports whether e is past all use at now: expired, and past the
// stale-serving window staleFor (which negative entries do not get).
func (e *entry[K, V]) dead(now, staleFor int64) bool {
	if e.expires == never {
		return false
	}
	if e.neg == nil {
		return e.expires+staleFor <= now
	}
	return e.expires <= now
}

// touch records a read: the frequency goes up by one, up to maxFreq. A
// saturated entry is only read, so hot entries do not bounce cache lines.
func (e *entry[K, V]) touch() {
	if e.freq.Load() < maxFreq {
		e.freq.Add(1)
	}
}

type node[K comparable, V any] struct {
	e    *entry[K, V]
	next *node[K, V]
}

type table[K comparable, V any] struct {
	buckets []atomic.Pointer[node[K, V]]
	mask    uint64
}

func newTable[K comparable, V any](n int) *table[K, V] {
	return &table[K, V]{buckets: make([]atomic.Pointer[node[K, V]], n), mask: uint64(n - 1)}
}

// fifo is a doubly linked queue of entries: pushed at head, popped at tail.
type fifo[K comparable, V any] struct {
	head, tail *entry[K, V]
	cost       int64
}

func (q *fifo[K, V]) push(e *entry[K, V]) {
	e.prev, e.next = nil, q.head
	if q.head != nil {
		q.head.prev = e
	} else {
		q.tail = e
	}
	q.head = e
	q.cost += e.cost
}

func (q *fifo[K, V]) unlink(e *entry[K, V]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		q.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		q.tail = e.prev
	}
	e.prev, e.next = nil, nil
	q.cost -= e.cost
}

// ghost remembers the hashes of recently evicted entries: a hash is in the
// set if it was added within the last limit additions. Stale hashes are
// swept when the map holds twice the limit, so each addition costs O(1)
// amortized and the map never exceeds 2×limit hashes.
type ghost struct {
	seq   uint64
	limit uint64
	m     map[uint64]uint64 // hash -> seq at addition
}

func (g *ghost) add(h uint64) {
	g.seq++
	g.m[h] = g.seq
	if uint64(len(g.m)) >= 2*g.limit {
		for k, s := range g.m {
			if g.seq-s >= g.limit {
				delete(g.m, k)
			}
		}
	}
}

// take reports whether h is in the set, and removes it.
func (g *ghost) take(h uint64) bool {
	s, ok := g.m[h]
	if !ok {
		return false
	}
	delete(g.m, h)
	return g.seq-s < g.limit
}

type shard[K comparable, V any] struct {
	tab atomic.Pointer[table[K, V]]
	n   atomic.Int64 // entries in the table; written under mu

	mu          sync.Mutex
	capacity    int64 // bound on small.cost + main.cost
	staleFor    int64 // how long past expiry entries stay useful: max(StaleWhileRevalidate, StaleIfError)
	smallCap    int64
	small, main fifo[K, V]
	ghost       ghost
	flights     map[K]*flight[V]

	// Evictions, written under mu and read by the metrics callback.
	evictedSize, evictedExpired atomic.Int64

	_ [64]byte // keep neighbouring shards' locks on separate cache lines
}

// evictions counts one store's evictions, reported after unlocking.
type evictions struct{ size, expired int64 }

func (s *shard[K, V]) init(capacity, staleFor int64) {
	s.capacity = capacity
	s.staleFor = staleFor
	s.smallCap = max(capacity/10, 1)
	s.ghost = ghost{limit: uint64(max(capacity-s.smallCap, 1)), m: map[uint64]uint64{}}
	s.flights = map[K]*flight[V]{}
	s.tab.Store(newTable[K, V](8))
}

// find returns k's entry, or nil. It takes no lock.
func (s *shard[K, V]) find(h uint64, k K) *entry[K, V] {
	t := s.tab.Load()
	for n := t.buckets[h&t.mask].Load(); n != nil; n = n.next {
		if n.e.hash == h && n.e.key == k {
			return n.e
		}
	}
	return nil
}

// without returns chain minus target's node: the nodes before it copied,
// the ones after it shared.
func without[K comparable, V any](chain *node[K, V], target *entry[K, V]) *node[K, V] {
	if chain == nil {
		return nil
	}
	if chain.e == target {
		return chain.next
	}
	return &node[K, V]{e: chain.e, next: without(chain.next, target)}
}

// store inserts e, replacing any entry with its key, evicting first until
// the shard has room for it, so the shard never holds more than its
// capacity. The caller holds mu. An entry costlier than the whole shard is
// not stored (the old one is still removed).
func (s *shard[K, V]) store(e *entry[K, V], now int64) evictions {
	old := s.find(e.hash, e.key)
	if e.cost > s.capacity {
		if old != nil {
			s.remove(old)
		}
		return evictions{}
	}
	queue := inSmall
	if old != nil {
		// An update stays in the old entry's queue with its frequency: the
		// key is as popular as it was. The old entry leaves its queue now
		// but stays readable in the table until e replaces it.
		queue = old.queue
		e.freq.Store(old.freq.Load())
		s.queueOf(old).unlink(old)
		old.queue = inNone
	} else if s.ghost.take(e.hash) {
		queue = inMain
	}
	ev := s.evict(now, e.cost)
	if queue == inMain {
		s.main.push(e)
	} else {
		s.small.push(e)
	}
	e.queue = queue
	t := s.tab.Load()
	b := &t.buckets[e.hash&t.mask]
	chain := b.Load()
	if old != nil {
		chain = without(chain, old)
	} else {
		s.n.Add(1)
	}
	b.Store(&node[K, V]{e: e, next: chain})
	if s.n.Load() > int64(len(t.buckets)) {
		s.grow()
	}
	return ev
}

func (s *shard[K, V]) queueOf(e *entry[K, V]) *fifo[K, V] {
	if e.queue == inMain {
		return &s.main
	}
	return &s.small
}

// remove takes e out of the table and its queue. The caller holds mu.
func (s *shard[K, V]) remove(e *entry[K, V]) {
	if e.queue == inNone {
		return
	}
	t := s.tab.Load()
	b := &t.buckets[e.hash&t.mask]
	b.Store(without(b.Load(), e))
	s.queueOf(e).unlink(e)
	e.queue = inNone
	s.n.Add(-1)
}

// clear empties the shard. The caller holds mu.
func (s *shard[K, V]) clear() {
	for _, q := range []*fifo[K, V]{&s.small, &s.main} {
		for e := q.tail; e != nil; e = q.tail {
			q.unlink(e)
			e.queue = inNone
		}
	}
	s.n.Store(0)
	s.tab.Store(newTable[K, V](8))
}

// evict removes entries until room more fits within the shard's capacity,
// following S3-FIFO (see the comment at the top of this file). now is the
// clock reading used to recognize dead entries; it is 0 when nothing
// expires.
func (s *shard[K, V]) evict(now, room int64) evictions {
	var ev evictions
	for s.small.cost+s.main.cost+room > s.capacity {
		if s.small.cost > s.smallCap || s.main.tail == nil {
			e := s.small.tail
			s.small.unlink(e)
			switch {
			case e.dead(now, s.staleFor):
				s.drop(e, &ev.expired)
			case e.freq.Load() > 0:
				e.freq.Store(0)
				s.main.push(e)
				e.queue = inMain
			default:
				s.drop(e, &ev.size)
				s.ghost.add(e.hash)
			}
			continue
		}
		e := s.main.tail
		s.main.unlink(e)
		switch f := e.freq.Load(); {
		case e.dead(now, s.staleFor):
			s.drop(e, &ev.expired)
		case f > 0:
			e.freq.Store(min(f, maxFreq) - 1)
			s.main.push(e)
		default:
			s.drop(e, &ev.size)
		}
	}
	return ev
}

// drop removes an entry already unlinked from its queue from the table.
func (s *shard[K, V]) drop(e *entry[K, V], counter *int64) {
	t := s.tab.Load()
	b := &t.buckets[e.hash&t.mask]
	b.Store(without(b.Load(), e))
	e.queue = inNone
	s.n.Add(-1)
	*counter++
}

// grow doubles the bucket array and publishes it. The caller holds mu.
func (s *shard[K, V]) grow() {
	old := s.tab.Load()
	t := newTable[K, V](2 * len(old.buckets))
	for i := range old.buckets {
		for n := old.buckets[i].Load(); n != nil; n = n.next {
			b := &t.buckets[n.e.hash&t.mask]
			b.Store(&node[K, V]{e: n.e, next: b.Load()})
		}
	}
	s.tab.Store(t)
}

// count adds a store's evictions to the shard's counters.
func (s *shard[K, V]) count(ev evictions) {
	if ev.size != 0 {
		s.evictedSize.Add(ev.size)
	}
	if ev.expired != 0 {
		s.evictedExpired.Add(ev.expired)
	}
}
