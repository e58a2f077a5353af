package bench

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/sethvargo/go-limiter/memorystore"
	ulule "github.com/ulule/limiter/v3"
	ululememory "github.com/ulule/limiter/v3/drivers/store/memory"
	uberratelimit "go.uber.org/ratelimit"
	"golang.org/x/time/rate"

	"github.com/chassis-go/chassis/guard"
)

// hotKey is the one key of BenchmarkHotKey.
const hotKey = "203.0.113.195"

// xrateKeyed is what users write around golang.org/x/time/rate for keyed
// limits: a map of limiters under a mutex, one limiter per key, never
// evicted.
type xrateKeyed struct {
	mu    sync.Mutex
	m     map[string]*rate.Limiter
	limit rate.Limit
	burst int
}

func newXrateKeyed(limit rate.Limit, burst int) *xrateKeyed {
	return &xrateKeyed{m: make(map[string]*rate.Limiter), limit: limit, burst: burst}
}

func (k *xrateKeyed) Allow(key string) bool {
	k.mu.Lock()
	l, ok := k.m[key]
	if !ok {
		l = rate.NewLimiter(k.limit, k.burst)
		k.m[key] = l
	}
	k.mu.Unlock()
	return l.Allow()
}

// BenchmarkHotKey is one admitted event on a key seen before, every event on
// the same key. The limits are so high that every event is admitted.
//
//   - chassis: guard.MemoryLimiter.Allow (key hash, shard lock, GCRA).
//   - xtimerate: a single rate.Limiter.Allow, with no key lookup at all.
//   - xtimerate_map: rate.Limiter in a map under a mutex (the keyed form).
//   - uber: go.uber.org/ratelimit Take at 1e9/s without slack. It is a
//     blocking leaky bucket that paces callers instead of answering
//     yes or no, and it has no keys; at this rate it never sleeps.
//   - ulule: ulule/limiter memory store (a fixed-window counter).
//   - sethvargo: sethvargo/go-limiter memorystore Take (a token bucket).
func BenchmarkHotKey(b *testing.B) {
	ctx := context.Background()
	b.Run("chassis", func(b *testing.B) {
		m := guard.NewMemoryLimiter(guard.PerSecond(1e9))
		b.ReportAllocs()
		for b.Loop() {
			if d, _ := m.Allow(ctx, hotKey); !d.Allowed {
				b.Fatal("denied")
			}
		}
	})
	b.Run("xtimerate", func(b *testing.B) {
		l := rate.NewLimiter(1e9, 1e9)
		b.ReportAllocs()
		for b.Loop() {
			if !l.Allow() {
				b.Fatal("denied")
			}
		}
	})
	b.Run("xtimerate_map", func(b *testing.B) {
		k := newXrateKeyed(1e9, 1e9)
		b.ReportAllocs()
		for b.Loop() {
			if !k.Allow(hotKey) {
				b.Fatal("denied")
			}
		}
	})
	b.Run("uber", func(b *testing.B) {
		l := uberratelimit.New(1e9, uberratelimit.WithoutSlack)
		b.ReportAllocs()
		for b.Loop() {
			l.Take()
		}
	})
	b.Run("ulule", func(b *testing.B) {
		l := ulule.New(ululememory.NewStore(), ulule.Rate{Period: time.Second, Limit: 1e12})
		b.ReportAllocs()
		for b.Loop() {
			if c, err := l.Get(ctx, hotKey); err != nil || c.Reached {
				b.Fatal("denied", err)
			}
		}
	})
	b.Run("sethvargo", func(b *testing.B) {
		// Tokens per hour: memorystore refills Interval/Tokens tokens per
		// elapsed Interval, so a high rate per second would refill nothing.
		// A 1e12-token bucket is never refilled during the benchmark.
		s, err := memorystore.New(&memorystore.Config{Tokens: 1e12, Interval: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close(ctx)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, _, ok, err := s.Take(ctx, hotKey); err != nil || !ok {
				b.Fatal("denied", err)
			}
		}
	})
}

// keys1M is the number of distinct keys BenchmarkKeys1M inserts per op.
const keys1M = 1_000_000

// BenchmarkKeys1M builds a fresh limiter and sends it one event on each of
// 1M distinct IPv4-shaped keys: one op is 1M insertions (ns/key reports the
// cost of one). B/key is the growth of the live heap (after a full GC) from
// before the limiter was built to after the last insertion, divided by 1M:
// the cost of tracking a key, the key's own bytes included (each key is a
// fresh string, so a limiter that keeps the caller's string and one that
// copies it pay the same). Run it with -benchtime=1x: one op takes seconds.
//
// chassis is built with MaxKeys(2M) so that all 1M keys are tracked (the
// default of 100k would keep 100k and charge the rest to the overflow
// allowance). None of the peers bounds its number of keys; ulule and
// sethvargo sweep expired keys from a background goroutine instead, which does
// not run during the op (their sweep intervals are minutes to hours).
func BenchmarkKeys1M(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, build func() (allow func(string) bool, done func())) {
		b.ReportAllocs()
		var grown float64
		buf := make([]byte, 0, 16)
		for b.Loop() {
			b.StopTimer()
			before := liveHeap()
			b.StartTimer()
			allow, done := build()
			for i := range uint32(keys1M) {
				buf = appendIPv4(buf[:0], 0x0a000000+i)
				if !allow(string(buf)) {
					b.Fatalf("key %d denied", i)
				}
			}
			b.StopTimer()
			grown += float64(liveHeap()) - float64(before)
			done() // after the measurement: done keeps the limiter alive
			b.StartTimer()
		}
		b.ReportMetric(grown/float64(b.N)/keys1M, "B/key")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/keys1M, "ns/key")
	}
	b.Run("chassis", func(b *testing.B) {
		run(b, func() (func(string) bool, func()) {
			m := guard.NewMemoryLimiter(guard.PerSecond(100), guard.MaxKeys(2*keys1M))
			return func(k string) bool {
					d, _ := m.Allow(ctx, k)
					return d.Allowed
				}, func() {
					if n := m.Len(); n != keys1M {
						b.Fatalf("Len() = %d; want %d", n, keys1M)
					}
				}
		})
	})
	b.Run("xtimerate_map", func(b *testing.B) {
		run(b, func() (func(string) bool, func()) {
			k := newXrateKeyed(100, 100)
			return k.Allow, func() {
				if n := len(k.m); n != keys1M {
					b.Fatalf("len = %d; want %d", n, keys1M)
				}
			}
		})
	})
	b.Run("ulule", func(b *testing.B) {
		run(b, func() (func(string) bool, func()) {
			l := ulule.New(ululememory.NewStore(), ulule.Rate{Period: time.Second, Limit: 100})
			return func(k string) bool {
				c, err := l.Get(ctx, k)
				return err == nil && !c.Reached
			}, func() { runtime.KeepAlive(l) }
		})
	})
	b.Run("sethvargo", func(b *testing.B) {
		run(b, func() (func(string) bool, func()) {
			s, err := memorystore.New(&memorystore.Config{Tokens: 100, Interval: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			return func(k string) bool {
				_, _, _, ok, err := s.Take(ctx, k)
				return err == nil && ok
			}, func() { _ = s.Close(ctx) }
		})
	})
}

// BenchmarkNewKeyAtCapacity is one event on a key the limiter has not seen,
// with its table already full, so that every event makes room by evicting a
// key: the cost of a flood of new clients. Each size (1k, 100k and 1M keys)
// is filled once, before its sub-benchmarks, and the keys then cycle through
// 2×size+65,536 distinct strings, so that a key has always left the table by
// the time it comes back. Keys replenish 1 µs after use, so there is always
// something evictable, as under steady traffic of many clients.
//
//   - chassis: guard.MemoryLimiter with MaxKeys(size): sampled eviction of
//     the entry closest to replenished (see its documentation).
//   - lru: an LRU of x/time/rate Limiters (hashicorp/golang-lru/v2, one
//     lock), the usual way to bound a map of limiters; it evicts the least
//     recently used key whatever its state.
func BenchmarkNewKeyAtCapacity(b *testing.B) {
	ctx := context.Background()
	for _, size := range []struct {
		name string
		n    int
	}{{"1k", 1_000}, {"100k", 100_000}, {"1M", 1_000_000}} {
		keys := make([]string, 2*size.n+1<<16)
		for i := range keys {
			keys[i] = "client-" + strconv.Itoa(i)
		}
		m := guard.NewMemoryLimiter(guard.Limit{Rate: 1, Per: time.Microsecond}, guard.MaxKeys(size.n))
		for _, k := range keys[:size.n] {
			m.Allow(ctx, k)
		}
		cache, err := lru.New[string, *rate.Limiter](size.n)
		if err != nil {
			b.Fatal(err)
		}
		every := rate.Every(time.Microsecond)
		lruAllow := func(key string) bool {
			l, ok := cache.Get(key)
			if !ok {
				l = rate.NewLimiter(every, 1)
				cache.Add(key, l)
			}
			return l.Allow()
		}
		for _, k := range keys[:size.n] {
			lruAllow(k)
		}
		b.Run(size.name+"/chassis", func(b *testing.B) {
			i := size.n
			b.ReportAllocs()
			for b.Loop() {
				if d, _ := m.Allow(ctx, keys[i]); !d.Allowed {
					b.Fatal("denied")
				}
				if i++; i == len(keys) {
					i = 0
				}
			}
			if n := m.Len(); n > size.n {
				b.Fatalf("Len() = %d; want <= %d", n, size.n)
			}
		})
		b.Run(size.name+"/lru", func(b *testing.B) {
			i := size.n
			b.ReportAllocs()
			for b.Loop() {
				if !lruAllow(keys[i]) {
					b.Fatal("denied")
				}
				if i++; i == len(keys) {
					i = 0
				}
			}
		})
		runtime.GC()
	}
}
