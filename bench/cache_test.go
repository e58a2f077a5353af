package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/maypok86/otter/v2"

	"github.com/chassis-go/chassis/cache"
)

// kv is the common face of the caches compared here: Get reports a hit,
// Set stores, close releases what the cache holds (goroutines included,
// where the library allows it).
type kv struct {
	get   func(uint64) bool
	set   func(uint64, uint64)
	close func()
}

// cacheImpls builds each cache with room for capacity entries of cost 1.
// ristretto's Set is asynchronous; sync makes it wait until each Set is
// applied, which hit-ratio traces need (they Get what they just Set) and
// throughput benchmarks do not (they only Get).
var cacheImpls = []struct {
	name  string
	build func(capacity int, sync bool) kv
}{
	{"chassis", func(capacity int, _ bool) kv {
		c := cache.New(cache.Config[uint64, uint64]{MaxEntries: capacity})
		return kv{
			get:   func(k uint64) bool { _, ok := c.Get(k); return ok },
			set:   func(k, v uint64) { c.Set(k, v) },
			close: c.Close,
		}
	}},
	{"otter", func(capacity int, _ bool) kv {
		c := otter.Must(&otter.Options[uint64, uint64]{MaximumSize: capacity})
		return kv{
			get:   func(k uint64) bool { _, ok := c.GetIfPresent(k); return ok },
			set:   func(k, v uint64) { c.Set(k, v) },
			close: func() { c.StopAllGoroutines() },
		}
	}},
	{"ristretto", func(capacity int, sync bool) kv {
		c, err := ristretto.NewCache(&ristretto.Config[uint64, uint64]{
			NumCounters: int64(10 * capacity), MaxCost: int64(capacity), BufferItems: 64, IgnoreInternalCost: true,
		})
		if err != nil {
			panic(err)
		}
		return kv{
			get: func(k uint64) bool { _, ok := c.Get(k); return ok },
			set: func(k, v uint64) {
				c.Set(k, v, 1)
				if sync {
					c.Wait()
				}
			},
			close: c.Close,
		}
	}},
	{"lru", func(capacity int, _ bool) kv {
		c, err := lru.New[uint64, uint64](capacity)
		if err != nil {
			panic(err)
		}
		return kv{
			get:   func(k uint64) bool { _, ok := c.Get(k); return ok },
			set:   func(k, v uint64) { c.Add(k, v) },
			close: func() {},
		}
	}},
	{"lru_expirable", func(capacity int, _ bool) kv {
		// Its expiry goroutine cannot be stopped (golang-lru v2.0.7).
		c := expirable.NewLRU[uint64, uint64](capacity, nil, time.Hour)
		return kv{
			get:   func(k uint64) bool { _, ok := c.Get(k); return ok },
			set:   func(k, v uint64) { c.Add(k, v) },
			close: func() {},
		}
	}},
}

// zipf draws ranks 0..n-1 with P(i) ∝ 1/(i+1)^s for any s > 0 (math/rand's
// Zipf needs s > 1) by binary search in the cumulative distribution.
type zipf struct {
	cdf []float64
	r   *rand.Rand
}

func newZipf(r *rand.Rand, s float64, n int) *zipf {
	cdf := make([]float64, n)
	sum := 0.0
	for i := range n {
		sum += 1 / math.Pow(float64(i+1), s)
		cdf[i] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return &zipf{cdf: cdf, r: r}
}

func (z *zipf) next() uint64 { return uint64(sort.SearchFloat64s(z.cdf, z.r.Float64())) }

// Hit-ratio traces: 2M requests over 1M keys, a cache of 10,000 entries
// (1% of the keys).
const (
	traceLen      = 2_000_000
	traceKeys     = 1_000_000
	traceCapacity = 10_000
)

// traces returns the key sequences, the same for every cache.
func traces() []struct {
	name string
	keys []uint64
} {
	zipfTrace := func(s float64, seed uint64) []uint64 {
		z := newZipf(rand.New(rand.NewPCG(seed, 1)), s, traceKeys)
		keys := make([]uint64, traceLen)
		for i := range keys {
			keys[i] = z.next()
		}
		return keys
	}
	// scan: Zipf 0.9, and every 100,000 requests a scan of 20,000 keys
	// never seen before and never seen again (a batch job, a crawler).
	scan := func() []uint64 {
		z := newZipf(rand.New(rand.NewPCG(3, 1)), 0.9, traceKeys)
		keys := make([]uint64, 0, traceLen+traceLen/5)
		fresh := uint64(1 << 40)
		for i := range traceLen {
			if i%100_000 == 50_000 {
				for range 20_000 {
					keys = append(keys, fresh)
					fresh++
				}
			}
			keys = append(keys, z.next())
		}
		return keys
	}
	// loop: 1.5× the capacity, cycled; LRU gets nothing.
	loop := func() []uint64 {
		keys := make([]uint64, traceLen)
		for i := range keys {
			keys[i] = uint64(i % (traceCapacity * 3 / 2))
		}
		return keys
	}
	return []struct {
		name string
		keys []uint64
	}{
		{"zipf_0.9", zipfTrace(0.9, 1)},
		{"zipf_1.2", zipfTrace(1.2, 2)},
		{"zipf_0.9+scans", scan()},
		{"loop_1.5x", loop()},
	}
}

// TestCacheHitRatio replays each trace through each cache (Get; on a miss,
// Set) and prints the hit ratios as a table. It checks the properties the
// cache's design promises: chassis is at least 5 points above LRU on the
// scan trace and not below LRU on the Zipf traces.
func TestCacheHitRatio(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 8M requests per cache; skipped with -short")
	}
	ts := traces()
	ratio := map[string]map[string]float64{}
	for _, impl := range cacheImpls {
		ratio[impl.name] = map[string]float64{}
		for _, tr := range ts {
			c := impl.build(traceCapacity, true)
			hits := 0
			for _, k := range tr.keys {
				if c.get(k) {
					hits++
				} else {
					c.set(k, k)
				}
			}
			c.close()
			ratio[impl.name][tr.name] = 100 * float64(hits) / float64(len(tr.keys))
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nhit ratio %% (capacity %d, %d keys)\n| cache |", traceCapacity, traceKeys)
	for _, tr := range ts {
		fmt.Fprintf(&sb, " %s |", tr.name)
	}
	sb.WriteString("\n|---|" + strings.Repeat("---:|", len(ts)) + "\n")
	for _, impl := range cacheImpls {
		fmt.Fprintf(&sb, "| %s |", impl.name)
		for _, tr := range ts {
			fmt.Fprintf(&sb, " %.2f |", ratio[impl.name][tr.name])
		}
		sb.WriteString("\n")
	}
	t.Log(sb.String())
	for _, tr := range ts {
		c, l := ratio["chassis"][tr.name], ratio["lru"][tr.name]
		switch {
		case tr.name == "zipf_0.9+scans" && c < l+5:
			t.Errorf("%s: chassis %.2f%% is less than 5 points above LRU's %.2f%%", tr.name, c, l)
		case strings.HasPrefix(tr.name, "zipf") && c < l:
			t.Errorf("%s: chassis %.2f%% is below LRU's %.2f%%", tr.name, c, l)
		}
	}
}

// BenchmarkCacheGetHit measures Get on keys that are all present (a cache
// with room for 2^16 entries holding 2^14 keys), drawn from a Zipf
// distribution (s=1.01) so that some keys are much hotter than others, from
// one goroutine. BenchmarkCacheGetHitParallel does the same from GOMAXPROCS
// goroutines (RunParallel), where shared cache lines and locks show.
func BenchmarkCacheGetHit(b *testing.B) { benchGetHit(b, false) }

// BenchmarkCacheGetHitParallel: see BenchmarkCacheGetHit.
func BenchmarkCacheGetHitParallel(b *testing.B) { benchGetHit(b, true) }

func benchGetHit(b *testing.B, parallel bool) {
	const n = 1 << 14
	z := newZipf(rand.New(rand.NewPCG(7, 7)), 1.01, n)
	seq := make([]uint64, 1<<20)
	for i := range seq {
		seq[i] = z.next()
	}
	for _, impl := range cacheImpls {
		b.Run(impl.name, func(b *testing.B) {
			c := impl.build(4*n, true)
			defer c.close()
			for k := range uint64(n) {
				c.set(k, k)
			}
			for k := range uint64(n) {
				if !c.get(k) { // also lets ristretto and otter admit and settle
					c.set(k, k)
				}
			}
			var misses atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			if !parallel {
				m, i := int64(0), rand.IntN(len(seq))
				for b.Loop() {
					if !c.get(seq[i&(len(seq)-1)]) {
						m++
					}
					i++
				}
				misses.Add(m)
			} else {
				b.RunParallel(func(pb *testing.PB) {
					m, i := int64(0), rand.IntN(len(seq))
					for pb.Next() {
						if !c.get(seq[i&(len(seq)-1)]) {
							m++
						}
						i++
					}
					misses.Add(m)
				})
			}
			b.ReportMetric(float64(misses.Load())/float64(b.N), "misses/op")
		})
	}
}

// TestCacheStampede sends 1,000 concurrent GetOrLoad calls for one missing
// key and counts the loads: chassis and otter (the only peer with a loader)
// must run exactly one.
func TestCacheStampede(t *testing.T) {
	const callers = 1000
	run := func(t *testing.T, get func(ctx context.Context, load func(context.Context, uint64) (uint64, error)) (uint64, error)) {
		var loads atomic.Int64
		release := make(chan struct{})
		entered := make(chan struct{}, callers)
		load := func(context.Context, uint64) (uint64, error) {
			loads.Add(1)
			entered <- struct{}{}
			<-release
			return 42, nil
		}
		var wg sync.WaitGroup
		var started sync.WaitGroup
		started.Add(callers)
		for range callers {
			wg.Go(func() {
				started.Done()
				if v, err := get(context.Background(), load); err != nil || v != 42 {
					t.Errorf("get = %d, %v; want 42, nil", v, err)
				}
			})
		}
		started.Wait() // every caller is running before the first load may end
		<-entered
		for range 1000 {
			runtime.Gosched() // let the stragglers reach the cache and join the load
		}
		close(release)
		wg.Wait()
		t.Logf("%d concurrent callers, %d loads", callers, loads.Load())
		if n := loads.Load(); n != 1 {
			t.Errorf("%d concurrent misses ran %d loads; want 1", callers, n)
		}
	}
	t.Run("chassis", func(t *testing.T) {
		c := cache.New(cache.Config[uint64, uint64]{})
		defer c.Close()
		run(t, func(ctx context.Context, load func(context.Context, uint64) (uint64, error)) (uint64, error) {
			return c.GetOrLoad(ctx, 7, load)
		})
	})
	t.Run("otter", func(t *testing.T) {
		c := otter.Must(&otter.Options[uint64, uint64]{MaximumSize: 1000})
		defer c.StopAllGoroutines()
		run(t, func(ctx context.Context, load func(context.Context, uint64) (uint64, error)) (uint64, error) {
			return c.Get(ctx, 7, otter.LoaderFunc[uint64, uint64](load))
		})
	})
}

// BenchmarkCacheBytes1M fills a fresh cache with room for 1M entries with
// 1M uint64 → uint64 entries, then sets 1M more new keys, which evicts as
// many. B/entry is the growth of the live heap (after a full GC) divided by
// 1M once the cache is full, B/entry_churned the same after the second
// million (eviction bookkeeping such as ghost queues and frequency sketches
// shows there), ns/entry the time per Set over both. Run it with
// -benchtime=1x: one op takes seconds.
func BenchmarkCacheBytes1M(b *testing.B) {
	const n = 1_000_000
	for _, impl := range cacheImpls {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			var full, churned float64
			for b.Loop() {
				b.StopTimer()
				before := liveHeap()
				b.StartTimer()
				c := impl.build(n, false)
				for k := range uint64(n) {
					c.set(k, k)
				}
				b.StopTimer()
				full += float64(liveHeap()) - float64(before)
				b.StartTimer()
				for k := range uint64(n) {
					c.set(n+k, k)
				}
				b.StopTimer()
				churned += float64(liveHeap()) - float64(before)
				c.close() // after the measurement: close keeps the cache alive
				b.StartTimer()
			}
			b.ReportMetric(full/float64(b.N)/n, "B/entry")
			b.ReportMetric(churned/float64(b.N)/n, "B/entry_churned")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(2*n), "ns/entry")
		})
	}
}
