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
// Buckets are atomic pointers to chains of entries linked through an atomic
// pointer in each entry; an entry's key, value and expiry never change
// after it is published. Writers hold mu. A new entry is linked in front of
// its bucket's chain with one store, after its own link is set; an update
// links the new entry first and then unlinks the old one; an unlink points
// the predecessor past the removed entry, whose own link is left as it was.
// A reader walking the chain without a lock therefore always reaches the
// end: an entry it stands on may be unlinked behind it, but still leads
// on to the rest of the chain. Links only ever point to older entries, so
// chains have no cycles.
//
// Growing builds a new table with copies of every entry (the copies take
// the originals' places in the queues) and publishes it with one store;
// readers still on the old table see a consistent, briefly stale snapshot.
// The copies cost an allocation per entry per doubling, O(1) amortized, and
// spare every lookup a separate chain node.
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

	chain atomic.Pointer[entry[K, V]] // the next entry in the bucket; written under shard.mu

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

type table[K comparable, V any] struct {
	buckets []atomic.Pointer[entry[K, V]]
	mask    uint64
}

func newTable[K comparable, V any](n int) *table[K, V] {
	return &table[K, V]{buckets: make([]atomic.Pointer[entry[K, V]], n), mask: uint64(n - 1)}
}

// link puts e in front of its bucket's chain. The caller holds mu.
func (t *table[K, V]) link(e *entry[K, V]) {
	b := &t.buckets[e.hash&t.mask]
	e.chain.Store(b.Load())
	b.Store(e)
}

// unlink takes e out of its bucket's chain. The caller holds mu.
func (t *table[K, V]) unlink(e *entry[K, V]) {
	b := &t.buckets[e.hash&t.mask]
	p := b.Load()
	if p == e {
		b.Store(e.chain.Load())
		return
	}
	for ; p != nil; p = p.chain.Load() {
		if p.chain.Load() == e {
			p.chain.Store(e.chain.Load())
			return
		}
	}
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

// replace puts e in old's place in the queue.
func (q *fifo[K, V]) replace(old, e *entry[K, V]) {
	e.prev, e.next = old.prev, old.next
	if e.prev != nil {
		e.prev.next = e
	} else {
		q.head = e
	}
	if e.next != nil {
		e.next.prev = e
	} else {
		q.tail = e
	}
	old.prev, old.next = nil, nil
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
// set if it was added within the last limit additions. It is a two-way
// set-associative table of 32-bit fingerprints stamped with the addition's
// sequence number, 8 bytes a slot and one to two slots per unit of limit:
// an addition overwrites the older of its bucket's two slots, so a hash may
// be forgotten early, or (on a fingerprint collision) one may be recognized
// that was never added. For an eviction policy's ghost queue both are
// harmless, and the table costs a fraction of a map's memory.
type ghost struct {
	seq   uint32 // of the latest addition; 0 marks an empty slot
	limit uint32
	mask  uint64 // buckets - 1
	slots []ghostSlot
}

type ghostSlot struct{ fp, seq uint32 }

func newGhost(limit int64) ghost {
	limit = min(max(limit, 1), 1<<30)
	n := uint64(2)
	for n < uint64(limit) {
		n *= 2
	}
	return ghost{limit: uint32(limit), mask: n/2 - 1, slots: make([]ghostSlot, n)}
}

func (g *ghost) bucket(h uint64) []ghostSlot {
	i := 2 * (h & g.mask)
	return g.slots[i : i+2]
}

// live reports whether a slot holds an addition of the last limit.
func (g *ghost) live(sl ghostSlot) bool { return sl.seq != 0 && g.seq-sl.seq < g.limit }

func (g *ghost) add(h uint64) {
	g.seq++
	if g.seq == 0 {
		g.seq = 1
	}
	b, fp := g.bucket(h), uint32(h>>32)
	victim := -1
	for i := range b {
		if b[i].fp == fp && g.live(b[i]) {
			victim = i // already there: refresh it
			break
		}
	}
	if victim < 0 {
		switch {
		case !g.live(b[0]):
			victim = 0
		case !g.live(b[1]):
			victim = 1
		case g.seq-b[1].seq > g.seq-b[0].seq: // b[1] is older
			victim = 1
		default:
			victim = 0
		}
	}
	b[victim] = ghostSlot{fp: fp, seq: g.seq}
}

// take reports whether h is in the set, and removes it.
func (g *ghost) take(h uint64) bool {
	b, fp := g.bucket(h), uint32(h>>32)
	for i := range b {
		if b[i].fp == fp && g.live(b[i]) {
			b[i] = ghostSlot{}
			return true
		}
	}
	return false
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
	s.ghost = newGhost(capacity - s.smallCap)
	s.flights = map[K]*flight[V]{}
	s.tab.Store(newTable[K, V](8))
}

// find returns k's entry, or nil. It takes no lock.
func (s *shard[K, V]) find(h uint64, k K) *entry[K, V] {
	t := s.tab.Load()
	for e := t.buckets[h&t.mask].Load(); e != nil; e = e.chain.Load() {
		if e.hash == h && e.key == k {
			return e
		}
	}
	return nil
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
	t.link(e)
	if old != nil {
		t.unlink(old)
	} else {
		s.n.Add(1)
	}
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
	s.tab.Load().unlink(e)
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
	s.tab.Load().unlink(e)
	e.queue = inNone
	s.n.Add(-1)
	*counter++
}

// grow doubles the bucket array, filled with copies of the entries that
// take the originals' places in the queues, and publishes it. The caller
// holds mu.
func (s *shard[K, V]) grow() {
	t := newTable[K, V](2 * len(s.tab.Load().buckets))
	for _, q := range []*fifo[K, V]{&s.small, &s.main} {
		for e := q.head; e != nil; {
			c := &entry[K, V]{key: e.key, val: e.val, neg: e.neg, hash: e.hash, cost: e.cost, expires: e.expires, queue: e.queue}
			c.freq.Store(e.freq.Load())
			next := e.next
			q.replace(e, c)
			e.queue = inNone
			t.link(c)
			e = next
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
