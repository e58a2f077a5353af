package guard

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// DefaultMaxKeys is the number of keys a [MemoryLimiter] tracks when the
// MaxKeys option is not given: about 4 to 7 MB plus the keys themselves.
const DefaultMaxKeys = 100_000

const (
	// evictionSamples is how many random entries of a full shard are looked
	// at to find an eviction candidate (Redis-style approximated LRU).
	evictionSamples = 8
	// maxShards bounds the number of shards; minShardKeys keeps shards large
	// enough for sampling to find good candidates.
	maxShards    = 64
	minShardKeys = 64
	// neverUsed is the overflow TAT before any use: replenished at any time,
	// even if a clock steps back before the limiter's construction.
	neverUsed = math.MinInt64 / 2
)

// MemoryLimiter is a [Limiter] that keeps its state in process memory, with a
// hard bound on the number of keys it tracks. Build one with
// [NewMemoryLimiter]; the zero MemoryLimiter is not usable. It is safe for
// concurrent use, and its Allow never blocks on I/O and never returns an
// error.
//
// # Algorithm
//
// Each key holds one 8-byte number, its theoretical arrival time (GCRA; the
// exact arithmetic is documented on the unexported gcra function and is the
// one guard/redislimit uses). Time is read from the clock (time.Now unless
// WithClock is given) as an offset from the limiter's construction, which
// uses the monotonic clock reading: wall-clock steps do not affect it, and a
// clock that goes backwards never grants extra admissions (see WithClock).
//
// # Bounded memory
//
// At most MaxKeys keys are tracked (Len reports how many). Each tracked key
// costs 40 to 70 bytes plus a copy of the key string: a 24-byte entry, 2 to 4
// eight-byte index slots and growth slack while the table fills
// (BenchmarkMemoryBytesPerKey measures 42 bytes per key with 1M keys, 69
// with 10k). A full default table of 16-byte keys takes 6 to 9 MB.
// (A key longer than 4 GiB, which no entry can hold, is never tracked: it is
// governed by the overflow allowance described under Eviction.)
//
// The table is split into up to 64 shards, each with its own lock and its own
// share of MaxKeys, chosen by a hash of the key seeded per limiter (so
// clients cannot aim at one shard). Allow on different keys therefore scales
// across cores. Each shard's index is an open-addressing table without
// tombstones, so a constant churn of keys does not slow lookups.
//
// # Eviction
//
// When a new key arrives at a full shard, the limiter samples 8 of the shard's
// entries at random and picks the one closest to replenished (smallest TAT;
// a shard of at most 8 keys is scanned exactly). That takes O(1) time,
// independent of MaxKeys: no scans, no sweeps, no global lock, no
// background goroutine.
//
// Eviction must not become a bypass (a flood of new keys must not reset a
// limited client's state), so the rule is:
//
//   - Every key that is not tracked shares one state, the overflow allowance:
//     a GCRA state with the same Limit. While it has never been used, an
//     untracked key is simply fresh.
//   - A tracked entry may be evicted only if it is no more limited than the
//     overflow allowance (its TAT <= max(now, overflow TAT)); a fully
//     replenished entry (TAT <= now) always qualifies. Evicting such an entry
//     loses nothing: when the key comes back it is governed by a state at
//     least as restrictive as its own.
//   - A new key is judged from the overflow state. If that admits it, it
//     takes a free or evictable slot and goes on from there on its own; if
//     the sampled candidate is more limited, the key is not tracked and its
//     admission is charged to the overflow allowance instead. A denied new
//     key changes nothing and is not stored.
//
// Consequently no key is ever admitted more often than its Limit allows
// (Burst + elapsed*Rate/Per), however many other keys are seen, and a limited
// key is never forgotten while it is more limited than the overflow
// allowance. The price is paid by new clients during a flood of distinct
// keys: once the flood has spent the overflow allowance, new keys are denied
// until it replenishes, which happens as soon as the flood stops being
// admitted (at most Burst*Per/Rate later). MaxKeys is enforced per shard, so
// a new key may be charged to the overflow allowance while other shards still
// have room; with a random seed and shards of at least 64 keys the fill stays
// even.
//
// # Metrics
//
// The limiter reports the number of tracked keys as the observable gauge
// chassis.ratelimit.keys ({key}, attribute chassis.limiter=memory) to the
// MeterProvider of WithMeterProvider, by default the global one. The
// registration holds a reference to the limiter for the life of the
// MeterProvider: create limiters once, at startup, not per request.
type MemoryLimiter struct {
	limit    Limit
	params   gcraParams
	now      func() time.Time
	base     time.Time
	seed     maphash.Seed
	shift    uint // a key's shard is its hash >> shift
	maxKeys  int
	shards   []shard
	overflow atomic.Int64 // the TAT shared by every untracked key
	// maxKeyLen is the length of the longest key an entry can hold
	// (math.MaxUint32; lower in tests): longer keys are never tracked.
	maxKeyLen uint64

	// clamp is set for an injected clock, which unlike time.Now's monotonic
	// reading may step back: latest is then the latest time seen, and an
	// earlier reading counts as latest.
	clamp  bool
	latest atomic.Int64
}

// shard is one lock's worth of the table: a slab of entries and an
// open-addressing index over it.
//
// The index is a power-of-two array of slots probed linearly from the key's
// hash, at most half full, with backward-shift deletion (no tombstones), so
// probe sequences stay short however many keys come and go. A slot is 0 when
// empty; otherwise its high 32 bits are the low 32 bits of the key's hash
// (which give the home position and filter mismatches without touching the
// entry) and its low 32 bits are the entry's index + 1. The maphash that
// picks the shard (from the hash's top bits) is the only hash computed per
// call.
type shard struct {
	mu      sync.Mutex
	limit   int // this shard's share of MaxKeys
	slots   []uint64
	entries []entry
	_       [64]byte // keep neighbouring shards' locks on separate cache lines
}

// entry is one tracked key: 24 bytes. The key's bytes are the entry's own
// copy, held by pointer and 32-bit length so that the low 32 bits of the
// key's hash fit beside them: evicting an entry finds its index slot from
// hash, without hashing the key again (which would read the key's bytes, a
// cache miss of its own in a large table).
type entry struct {
	p    *byte  // the key's bytes
	n    uint32 // the key's length
	hash uint32 // the low 32 bits of the key's hash
	tat  int64
}

func (e *entry) key() string { return unsafe.String(e.p, e.n) }

// NewMemoryLimiter returns an in-memory limiter applying l to each key
// separately, tracking at most MaxKeys keys (see [MemoryLimiter] for the
// eviction rule). A zero l.Burst means l.Rate.
//
// Panics if l is invalid ([Limit.Validate]) or MaxKeys is < 1, with a message
// such as "guard.NewMemoryLimiter: Limit.Rate must be > 0, got 0".
func NewMemoryLimiter(l Limit, opts ...MemoryOption) *MemoryLimiter {
	if msg := l.problem(); msg != "" {
		panic("guard.NewMemoryLimiter: " + msg)
	}
	cfg := memoryConfig{maxKeys: DefaultMaxKeys}
	for _, o := range opts {
		if o != nil {
			o.applyMemory(&cfg)
		}
	}
	if cfg.maxKeys < 1 {
		panic(fmt.Sprintf("guard.NewMemoryLimiter: MaxKeys must be >= 1, got %d", cfg.maxKeys))
	}
	clamp := cfg.now != nil
	if cfg.now == nil {
		cfg.now = time.Now
	}
	l = l.normalize()

	// The largest power of two <= min(maxShards, maxKeys/minShardKeys), >= 1.
	n := min(maxShards, max(1, cfg.maxKeys/minShardKeys))
	n = 1 << (bits.Len(uint(n)) - 1)

	m := &MemoryLimiter{
		limit:     l,
		params:    paramsOf(l),
		now:       cfg.now,
		base:      cfg.now(),
		seed:      maphash.MakeSeed(),
		shift:     uint(64 - bits.TrailingZeros(uint(n))), // 64 for one shard: every hash >> 64 is 0
		maxKeys:   cfg.maxKeys,
		shards:    make([]shard, n),
		maxKeyLen: math.MaxUint32,
		clamp:     clamp,
	}
	m.overflow.Store(neverUsed)
	for i := range m.shards {
		s := &m.shards[i]
		s.limit = cfg.maxKeys / n
		if i < cfg.maxKeys%n {
			s.limit++
		}
		s.slots = make([]uint64, minSlots)
	}
	m.registerMetrics(cfg.mp)
	return m
}

func (m *MemoryLimiter) registerMetrics(mp metric.MeterProvider) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(limiterScope)
	g, err := meter.Int64ObservableGauge("chassis.ratelimit.keys",
		metric.WithUnit("{key}"),
		metric.WithDescription("Keys tracked by the in-memory rate limiter."))
	if err != nil {
		otel.Handle(err)
		return
	}
	attrs := metric.WithAttributeSet(attribute.NewSet(attribute.String("chassis.limiter", "memory")))
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(g, int64(m.Len()), attrs)
		return nil
	}, g)
	if err != nil {
		otel.Handle(err)
	}
}

// Limit returns the limit the limiter applies, with a zero Burst replaced by
// Rate.
func (m *MemoryLimiter) Limit() Limit { return m.limit }

// Len returns the number of keys currently tracked, which never exceeds
// MaxKeys. It includes keys that have replenished but not yet been evicted
// (they are evicted only to make room). It locks each shard in turn, so it is
// meant for metrics and tests rather than hot paths.
func (m *MemoryLimiter) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

// Allow reports whether an event for key may happen now and records it if so.
// It never returns an error and ignores ctx (it does not block). An existing
// key is decided without allocating; a new key costs one copy of the key
// string. The empty key is a key like any other.
func (m *MemoryLimiter) Allow(_ context.Context, key string) (Decision, error) {
	h := maphash.String(m.seed, key)
	s := &m.shards[h>>m.shift]
	s.mu.Lock()
	// Read the clock under the lock, so that a shard's decisions see
	// non-decreasing times: an eviction judged at one time can never be
	// followed by a decision on that key at an earlier time.
	now := m.nanos()
	if i := s.find(key, h); i >= 0 {
		e := &s.entries[i]
		r := gcra(now, e.tat, m.params)
		if r.allowed {
			e.tat = r.tat
		}
		s.mu.Unlock()
		return r.decision(m.limit), nil
	}
	r := m.admitNew(s, key, h, now)
	s.mu.Unlock()
	return r.decision(m.limit), nil
}

// nanos returns the time as nanoseconds since the limiter's construction, on
// a timeline that never goes back.
func (m *MemoryLimiter) nanos() int64 {
	if !m.clamp {
		// time.Since on a time.Now reading reads only the monotonic clock,
		// about half the cost of time.Now, which also reads the wall clock.
		return int64(time.Since(m.base))
	}
	now := int64(m.now().Sub(m.base))
	for {
		latest := m.latest.Load()
		if now <= latest {
			return latest
		}
		if m.latest.CompareAndSwap(latest, now) {
			return now
		}
	}
}

// admitNew decides for a key that s does not track. s.mu is held: that
// serializes every decision for this key, including overflow charges, so
// concurrent requests for one key cannot each see a stale overflow state.
func (m *MemoryLimiter) admitNew(s *shard, key string, h uint64, now int64) gcraResult {
	untracked := m.overflow.Load()
	r := gcra(now, untracked, m.params)
	if !r.allowed {
		return r // an untracked key that is denied needs no state of its own
	}
	switch {
	case uint64(len(key)) > m.maxKeyLen:
		// Too long for an entry: governed by the overflow state, like any
		// key the table has no room for.
	case len(s.entries) < s.limit:
		s.insert(strings.Clone(key), h, r.tat)
		return r
	default:
		if v := s.candidate(now); s.entries[v].tat <= max(untracked, now) {
			// The victim is no more limited than an untracked key: once
			// evicted it is governed by the overflow state, which is at
			// least as strict.
			s.replace(v, strings.Clone(key), h, r.tat)
			return r
		}
	}
	// Every candidate is more limited than a newcomer (or the key cannot be
	// tracked): charge the shared overflow allowance instead of handing out
	// a fresh bucket.
	for {
		ov := m.overflow.Load()
		r = gcra(now, ov, m.params)
		if !r.allowed || m.overflow.CompareAndSwap(ov, r.tat) {
			return r
		}
	}
}

// candidate returns the index of the entry closest to replenished among a few
// sampled at random (all of them when the shard is that small). s is full.
func (s *shard) candidate(now int64) int {
	n := len(s.entries)
	best := 0
	if n <= evictionSamples {
		for i := 1; i < n; i++ {
			if s.entries[i].tat < s.entries[best].tat {
				best = i
			}
		}
		return best
	}
	best = rand.IntN(n)
	for range evictionSamples - 1 {
		if s.entries[best].tat <= now {
			break // replenished: nothing is a better victim
		}
		if i := rand.IntN(n); s.entries[i].tat < s.entries[best].tat {
			best = i
		}
	}
	return best
}

// minSlots is the initial size of a shard's index.
const minSlots = 8

// find returns the index of key's entry, or -1.
func (s *shard) find(key string, h uint64) int {
	mask := uint32(len(s.slots) - 1)
	tag := uint64(uint32(h)) << 32
	for i := uint32(h) & mask; ; i = (i + 1) & mask {
		slot := s.slots[i]
		if slot == 0 {
			return -1
		}
		if slot&^math.MaxUint32 == tag {
			if e := uint32(slot) - 1; s.entries[e].key() == key {
				return int(e)
			}
		}
	}
}

// link records in the index that entry e has hash h.
func (s *shard) link(h uint64, e int) {
	mask := uint32(len(s.slots) - 1)
	i := uint32(h) & mask
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = uint64(uint32(h))<<32 | uint64(e+1)
}

// unlink removes entry e, whose key has hash h, from the index, shifting
// later slots of the probe sequence back so that no tombstone is left.
func (s *shard) unlink(h uint64, e int) {
	mask := uint32(len(s.slots) - 1)
	want := uint64(e + 1)
	i := uint32(h) & mask
	for s.slots[i]&math.MaxUint32 != want {
		i = (i + 1) & mask
	}
	// Knuth's Algorithm R (TAOCP 6.4): move back every later slot of the run
	// whose home position is not cyclically within (i, j].
	for j := (i + 1) & mask; s.slots[j] != 0; j = (j + 1) & mask {
		home := uint32(s.slots[j]>>32) & mask
		if (i < j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = 0
}

func (s *shard) insert(key string, h uint64, tat int64) {
	if len(s.entries) == cap(s.entries) {
		// Grow as append would, but never past this shard's limit.
		c := min(s.limit, max(8, 2*cap(s.entries)))
		grown := make([]entry, len(s.entries), c)
		copy(grown, s.entries)
		s.entries = grown
	}
	if 2*(len(s.entries)+1) > len(s.slots) {
		// Keep the index at most half full: double it and re-place every
		// slot from the hash bits it holds.
		old := s.slots
		s.slots = make([]uint64, 2*len(old))
		mask := uint32(len(s.slots) - 1)
		for _, slot := range old {
			if slot != 0 {
				i := uint32(slot>>32) & mask
				for s.slots[i] != 0 {
					i = (i + 1) & mask
				}
				s.slots[i] = slot
			}
		}
	}
	s.entries = append(s.entries, newEntry(key, h, tat))
	s.link(h, len(s.entries)-1)
}

// replace gives entry i to key with hash h.
func (s *shard) replace(i int, key string, h uint64, tat int64) {
	s.unlink(uint64(s.entries[i].hash), i)
	s.entries[i] = newEntry(key, h, tat)
	s.link(h, i)
}

// newEntry returns the entry of key, which has hash h; key is the entry's own
// copy and at most math.MaxUint32 bytes long.
func newEntry(key string, h uint64, tat int64) entry {
	return entry{p: unsafe.StringData(key), n: uint32(len(key)), hash: uint32(h), tat: tat}
}
