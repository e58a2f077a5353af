package cache

import (
	"math/rand/v2"
	"testing"
)

// check verifies a shard's invariants: every entry in the table is in
// exactly one queue and vice versa, queue costs add up, the count matches,
// the bound holds and the ghost set is bounded.
func (s *shard[K, V]) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	inTable := map[*entry[K, V]]bool{}
	tab := s.tab.Load()
	for i := range tab.buckets {
		for e := tab.buckets[i].Load(); e != nil; e = e.chain.Load() {
			if e.hash&tab.mask != uint64(i) {
				t.Fatalf("entry %v in bucket %d; want %d", e.key, i, e.hash&tab.mask)
			}
			if inTable[e] {
				t.Fatalf("entry %v twice in the table", e.key)
			}
			inTable[e] = true
		}
	}
	queued := 0
	for _, tc := range []struct {
		q    *fifo[K, V]
		want uint8
	}{{&s.small, inSmall}, {&s.main, inMain}} {
		var cost int64
		var prev *entry[K, V]
		for e := tc.q.head; e != nil; e = e.next {
			if e.queue != tc.want || e.prev != prev || !inTable[e] {
				t.Fatalf("entry %v: queue %d (want %d), prev ok %v, in table %v", e.key, e.queue, tc.want, e.prev == prev, inTable[e])
			}
			cost += e.cost
			prev = e
			queued++
		}
		if tc.q.tail != prev || tc.q.cost != cost {
			t.Fatalf("queue %d: tail ok %v, cost %d; want %d", tc.want, tc.q.tail == prev, tc.q.cost, cost)
		}
	}
	if queued != len(inTable) || int64(queued) != s.n.Load() {
		t.Fatalf("%d queued, %d in table, n = %d; want all equal", queued, len(inTable), s.n.Load())
	}
	if s.small.cost+s.main.cost > s.capacity {
		t.Fatalf("cost %d over capacity %d", s.small.cost+s.main.cost, s.capacity)
	}
	if n := len(s.ghost.slots); n > 2*int(s.ghost.limit)+2 {
		t.Fatalf("ghost has %d slots; limit %d", n, s.ghost.limit)
	}
}

func TestShardInvariants(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config[int, int]
	}{
		{"entries", Config[int, int]{MaxEntries: 3000}},
		{"tiny", Config[int, int]{MaxEntries: 3}},
		{"cost", Config[int, int]{Cost: func(_, v int) int64 { return int64(v % 7) }, MaxCost: 5000}},
		{"ttl", Config[int, int]{MaxEntries: 2000, TTL: 1, Jitter: -1, NegativeTTL: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.cfg)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range 60_000 {
				k := int(r.ExpFloat64() * 2000)
				switch r.IntN(10) {
				case 0:
					c.Delete(k)
				case 1, 2, 3:
					c.Set(k, i)
				default:
					c.Get(k)
				}
				if i%10_000 == 0 {
					for j := range c.shards {
						c.shards[j].check(t)
					}
				}
			}
			c.Clear()
			for j := range c.shards {
				c.shards[j].check(t)
			}
		})
	}
}

func TestGhost(t *testing.T) {
	g := newGhost(1000)
	for h := range uint64(3000) {
		g.add(h * 0x9e3779b97f4a7c15)
	}
	recent, old := 0, 0
	for h := range uint64(3000) {
		if g.take(h * 0x9e3779b97f4a7c15) {
			if h >= 2000 {
				recent++
			} else {
				old++
			}
		}
	}
	// Two-way buckets at a load of about one: most of the last 1000 stay.
	if recent < 800 || old != 0 {
		t.Errorf("ghost(limit 1000) after 3000 additions remembers %d of the last 1000 and %d older; want >= 800 and 0", recent, old)
	}
	if g.take(12345) {
		t.Error("take of a hash never added = true")
	}
}
