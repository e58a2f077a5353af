package cache

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/chassis-go/chassis/internal/logthrottle"
)

// DefaultMaxEntries is the bound on entries when Config has neither
// MaxEntries nor Cost.
const DefaultMaxEntries = 10_000

// DefaultLoadTimeout is the time a load may take when Config.LoadTimeout is
// zero.
const DefaultLoadTimeout = 10 * time.Second

// never is the expiry of an entry that does not expire.
const never = math.MaxInt64

// Config configures a [Cache]. The zero Config is usable: at most 10,000
// entries that never expire, no stale serving, no negative caching, loads
// bounded by 10 seconds. New copies it; later changes have no effect.
type Config[K comparable, V any] struct {
	// Name identifies the cache in metrics (attribute chassis.cache.name).
	// Empty means "default". Give each cache of a program its own name.
	Name string

	// MaxEntries bounds the number of entries, counting negative entries and
	// entries kept for stale serving. Zero means DefaultMaxEntries (10,000)
	// unless Cost is set; negative panics. It cannot be combined with Cost.
	MaxEntries int

	// Cost, if non-nil, weighs each entry (for example its size in bytes)
	// and MaxCost bounds the sum instead of MaxEntries counting entries. It
	// is called once per Set or load, on the caller's or loader's goroutine,
	// with no lock held; it must be fast and safe for concurrent use. A cost
	// below 1 counts as 1. An entry whose cost exceeds MaxCost divided by
	// the number of shards (see [Cache.Shards]) is not stored.
	Cost func(K, V) int64
	// MaxCost is the bound on the sum of costs when Cost is set: it must then
	// be positive, and it must be zero otherwise.
	MaxCost int64

	// TTL is how long an entry is fresh after it is stored. Zero means
	// entries never expire (they leave only by eviction or Delete); negative
	// panics.
	TTL time.Duration
	// Jitter shortens each entry's TTL by a random amount in [0, Jitter), so
	// that keys stored together do not all expire (and reload) together.
	// Zero means TTL/10; negative means no jitter. It must be less than TTL.
	Jitter time.Duration

	// StaleWhileRevalidate is how long after its expiry an entry may still
	// be served by GetOrLoad while one background load refreshes it. Zero
	// disables it; negative panics. Get never serves stale entries.
	StaleWhileRevalidate time.Duration
	// StaleIfError is how long after its expiry an entry may still be
	// served by GetOrLoad when the load that should replace it fails
	// (anything but a not-found error). Zero disables it; negative panics.
	StaleIfError time.Duration
	// NegativeTTL, when positive, caches a load's not-found result (an
	// error matching [ErrNotFound]) for this long, so that lookups of
	// missing keys do not each reach the source. Zero disables it; negative
	// panics. Negative entries are not jittered.
	NegativeTTL time.Duration

	// LoadTimeout bounds each load GetOrLoad starts; the load's context is
	// cancelled when it passes. Zero means DefaultLoadTimeout (10s);
	// negative means no timeout (the load is then cancelled only by Close).
	LoadTimeout time.Duration

	// Clock is the time source for expiry. Nil means time.Now. Tests inject
	// a fake; a clock that steps back makes entries fresh for longer.
	Clock func() time.Time
	// MeterProvider receives the cache's metrics (see the package doc).
	// Nil means otel.GetMeterProvider() when New is called.
	MeterProvider metric.MeterProvider
	// Logger receives failed background refreshes (stale-while-revalidate
	// loads, which have no caller to return their error to), at most one
	// record per second. Nil means slog.Default() at the time of logging.
	Logger *slog.Logger
}

// Cache is a bounded in-process key-value cache with TTL, loaders with
// per-key singleflight, and stale serving. Build one with [New]; the zero
// Cache is not usable. All methods are safe for concurrent use. Get, Set,
// Delete and Len never block on I/O; Get takes no lock.
//
// A Cache that has served GetOrLoad may have loads running in background
// goroutines; [Cache.Close] cancels and waits for them.
type Cache[K comparable, V any] struct {
	name    string
	seed    maphash.Seed
	seed64  uint64
	shift   uint // a key's shard is its hash >> shift
	shards  []shard[K, V]
	stripes []stripe
	cost    func(K, V) int64

	ttl, jitter, swr, sie, negTTL, loadTimeout time.Duration
	now                                        func() time.Time
	base                                       time.Time
	logger                                     *slog.Logger
	throttle                                   logthrottle.Throttle
	metrics                                    *metrics
	loads, loadErrors                          atomic.Int64

	// bg guards closed and wg.Add, so that Close's wg.Wait cannot miss a
	// load that starts concurrently.
	bg      sync.Mutex
	closed  bool
	wg      sync.WaitGroup
	stop    context.Context // cancelled by Close; every background load's context follows it
	stopAll context.CancelFunc
}

// stripe is one padded set of hot-path counters; a key's counters are
// picked by its hash so that goroutines reading different keys rarely share
// a cache line.
type stripe struct {
	hits, stale, misses atomic.Int64
	_                   [40]byte
}

// New returns a Cache configured by cfg.
//
// Panics if a field is invalid: a negative MaxEntries, MaxCost,
// TTL, StaleWhileRevalidate, StaleIfError or NegativeTTL; a Jitter not
// below TTL; Cost with a MaxCost below 1, MaxCost without Cost, or Cost
// with MaxEntries.
func New[K comparable, V any](cfg Config[K, V]) *Cache[K, V] {
	checkConfig(cfg)
	c := &Cache[K, V]{
		name:        cfg.Name,
		seed:        maphash.MakeSeed(),
		seed64:      rand.Uint64(),
		cost:        cfg.Cost,
		ttl:         cfg.TTL,
		jitter:      cfg.Jitter,
		swr:         cfg.StaleWhileRevalidate,
		sie:         cfg.StaleIfError,
		negTTL:      cfg.NegativeTTL,
		loadTimeout: cfg.LoadTimeout,
		now:         cfg.Clock,
		logger:      cfg.Logger,
	}
	if c.name == "" {
		c.name = "default"
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.base = c.now()
	if c.jitter == 0 {
		c.jitter = c.ttl / 10
	}
	if c.loadTimeout == 0 {
		c.loadTimeout = DefaultLoadTimeout
	}
	capacity := int64(cfg.MaxEntries)
	if cfg.Cost != nil {
		capacity = cfg.MaxCost
	} else if capacity == 0 {
		capacity = DefaultMaxEntries
	}
	n := shardCount(capacity)
	c.shift = uint(64 - bits.TrailingZeros(uint(n)))
	c.shards = make([]shard[K, V], n)
	for i := range c.shards {
		// The remainder goes to the first shards, so the shard capacities
		// add up to exactly the configured bound.
		share := capacity / int64(n)
		if int64(i) < capacity%int64(n) {
			share++
		}
		c.shards[i].init(share, int64(max(c.swr, c.sie)))
	}
	c.stripes = make([]stripe, stripeCount())
	c.stop, c.stopAll = context.WithCancel(context.Background())
	c.metrics = newMetrics(cfg.MeterProvider, c)
	return c
}

func checkConfig[K comparable, V any](cfg Config[K, V]) {
	bad := func(field, problem string) {
		panic(fmt.Sprintf("cache.New: %s %s", field, problem))
	}
	switch {
	case cfg.MaxEntries < 0:
		bad("MaxEntries", fmt.Sprintf("must not be negative, got %d; use 0 for the default of %d", cfg.MaxEntries, DefaultMaxEntries))
	case cfg.Cost != nil && cfg.MaxEntries != 0:
		bad("MaxEntries", "is set together with Cost; bound either the number of entries (MaxEntries) or their total cost (Cost and MaxCost)")
	case cfg.Cost != nil && cfg.MaxCost < 1:
		bad("MaxCost", fmt.Sprintf("must be at least 1 when Cost is set, got %d; set the bound on the total cost", cfg.MaxCost))
	case cfg.Cost == nil && cfg.MaxCost != 0:
		bad("MaxCost", fmt.Sprintf("is %d but Cost is nil; set Cost or use MaxEntries", cfg.MaxCost))
	case cfg.TTL < 0:
		bad("TTL", fmt.Sprintf("must not be negative, got %v; use 0 for entries that never expire", cfg.TTL))
	case cfg.Jitter > 0 && cfg.Jitter >= cfg.TTL:
		bad("Jitter", fmt.Sprintf("must be less than TTL (%v), got %v; use 0 for TTL/10", cfg.TTL, cfg.Jitter))
	case cfg.StaleWhileRevalidate < 0:
		bad("StaleWhileRevalidate", fmt.Sprintf("must not be negative, got %v; use 0 to disable it", cfg.StaleWhileRevalidate))
	case cfg.StaleIfError < 0:
		bad("StaleIfError", fmt.Sprintf("must not be negative, got %v; use 0 to disable it", cfg.StaleIfError))
	case cfg.NegativeTTL < 0:
		bad("NegativeTTL", fmt.Sprintf("must not be negative, got %v; use 0 to disable negative caching", cfg.NegativeTTL))
	}
}

// shardCount picks a power of two near 4×GOMAXPROCS (at most 64), lowered
// until each shard holds at least 1024 units of capacity: shards spread
// writers over locks, but each shard runs its own eviction, and very small
// shards evict less wisely.
func shardCount(capacity int64) int {
	n := 1
	for n < 4*runtime.GOMAXPROCS(0) && n < 64 {
		n *= 2
	}
	for n > 1 && capacity/int64(n) < 1024 {
		n /= 2
	}
	return n
}

// stripeCount is the number of counter stripes: a power of two of at least
// 64 and 4×GOMAXPROCS, so that goroutines reading different keys rarely
// add to the same cache line (4 KiB of counters per cache at 64).
func stripeCount() int {
	n := 64
	for n < 4*runtime.GOMAXPROCS(0) && n < 256 {
		n *= 2
	}
	return n
}

// Shards reports into how many independently locked and evicted parts the
// cache is split; each holds an equal share of the capacity.
func (c *Cache[K, V]) Shards() int { return len(c.shards) }

// hash returns k's hash under the cache's seed. Strings and integers take
// a fast path; other comparable types go through maphash.Comparable.
func (c *Cache[K, V]) hash(k K) uint64 {
	switch x := any(k).(type) {
	case string:
		return maphash.String(c.seed, x)
	case int:
		return mix(uint64(x) ^ c.seed64)
	case int64:
		return mix(uint64(x) ^ c.seed64)
	case uint64:
		return mix(x ^ c.seed64)
	case int32:
		return mix(uint64(x) ^ c.seed64)
	case uint32:
		return mix(uint64(x) ^ c.seed64)
	}
	return maphash.Comparable(c.seed, k)
}

// mix is MurmurHash3's 64-bit finalizer, a bijection that spreads every
// input bit over the whole word. Integer keys are xored with a random
// per-cache seed first, so which keys share a shard or bucket cannot be
// predicted from outside.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func (c *Cache[K, V]) shardOf(h uint64) *shard[K, V] {
	if len(c.shards) == 1 {
		return &c.shards[0]
	}
	return &c.shards[h>>c.shift]
}

func (c *Cache[K, V]) stripeOf(h uint64) *stripe {
	return &c.stripes[(h>>7)&uint64(len(c.stripes)-1)]
}

// nanos is the clock's reading in nanoseconds since the cache was built.
func (c *Cache[K, V]) nanos() int64 { return int64(c.now().Sub(c.base)) }

// expiry returns when a new entry stored at now stops being fresh: now plus
// the jittered TTL, or never.
func (c *Cache[K, V]) expiry(now int64) int64 {
	if c.ttl <= 0 {
		return never
	}
	d := c.ttl
	if c.jitter > 0 {
		d -= time.Duration(rand.Int64N(int64(c.jitter)))
	}
	return now + int64(d)
}

// Get returns k's value and true if k holds a fresh value; otherwise the
// zero V and false. It never serves a stale or negative entry and never
// loads. Get takes no lock; it reads the clock only if entries expire.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	h := c.hash(k)
	e := c.shardOf(h).find(h, k)
	st := c.stripeOf(h)
	if e == nil || e.neg != nil || (e.expires != never && c.nanos() >= e.expires) {
		st.misses.Add(1)
		var zero V
		return zero, false
	}
	e.touch()
	st.hits.Add(1)
	return e.val, true
}

// Set stores v under k, replacing any previous value, fresh for TTL (with
// jitter). A load of k in flight when Set is called still returns its
// result to its waiters but does not overwrite v. If the cache is full, Set
// evicts other entries; an entry too costly for its shard is not stored
// (and any previous value of k is removed).
func (c *Cache[K, V]) Set(k K, v V) {
	h := c.hash(k)
	cost := c.costOf(k, v)
	now := int64(0)
	if c.ttl > 0 || c.negTTL > 0 {
		now = c.nanos() // also recognizes dead negative entries while evicting
	}
	exp := c.expiry(now)
	s := c.shardOf(h)
	s.mu.Lock()
	s.invalidate(k)
	ev := s.store(&entry[K, V]{key: k, val: v, hash: h, cost: cost, expires: exp}, now)
	s.mu.Unlock()
	s.count(ev)
}

// Delete removes k. A load of k in flight when Delete is called still
// returns its result to its waiters but does not store it.
func (c *Cache[K, V]) Delete(k K) {
	h := c.hash(k)
	s := c.shardOf(h)
	s.mu.Lock()
	s.invalidate(k)
	if e := s.find(h, k); e != nil {
		s.remove(e)
	}
	s.mu.Unlock()
}

// Clear removes every entry. Loads in flight still return their results to
// their waiters but do not store them.
func (c *Cache[K, V]) Clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for _, f := range s.flights {
			f.invalidated = true
		}
		s.clear()
		s.mu.Unlock()
	}
}

// Len returns the number of entries, counting expired entries not yet
// evicted and negative entries. It is a sum over shards, each read
// atomically, so under concurrent writes it is approximate.
func (c *Cache[K, V]) Len() int {
	n := 0
	for i := range c.shards {
		n += int(c.shards[i].n.Load())
	}
	return n
}

func (c *Cache[K, V]) costOf(k K, v V) int64 {
	if c.cost == nil {
		return 1
	}
	return max(c.cost(k, v), 1)
}

// invalidate marks a load of k in flight, if any, as not to be stored. The
// caller holds s.mu.
func (s *shard[K, V]) invalidate(k K) {
	if len(s.flights) == 0 {
		return // spares hashing k a second time on the common path
	}
	if f := s.flights[k]; f != nil {
		f.invalidated = true
	}
}
