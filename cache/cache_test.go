package cache_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chassis-go/chassis/cache"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestGetSetDelete(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Config[string, int]{})
	if v, ok := c.Get("a"); ok {
		t.Fatalf("Get(a) on an empty cache = %d, true; want 0, false", v)
	}
	c.Set("a", 1)
	c.Set("b", 2)
	c.Set("a", 3)
	if v, ok := c.Get("a"); !ok || v != 3 {
		t.Errorf("Get(a) = %d, %v; want 3, true", v, ok)
	}
	if v, ok := c.Get("b"); !ok || v != 2 {
		t.Errorf("Get(b) = %d, %v; want 2, true", v, ok)
	}
	if n := c.Len(); n != 2 {
		t.Errorf("Len() = %d; want 2", n)
	}
	c.Delete("a")
	c.Delete("missing")
	if _, ok := c.Get("a"); ok {
		t.Error("Get(a) after Delete(a) found it")
	}
	if n := c.Len(); n != 1 {
		t.Errorf("Len() after Delete = %d; want 1", n)
	}
	c.Clear()
	if _, ok := c.Get("b"); ok || c.Len() != 0 {
		t.Errorf("after Clear: Get(b) ok = %v, Len() = %d; want false, 0", ok, c.Len())
	}
}

func TestKeyTypes(t *testing.T) {
	t.Parallel()
	type pair struct {
		a string
		b int
	}
	ci := cache.New(cache.Config[int, string]{})
	cu := cache.New(cache.Config[uint32, string]{})
	cp := cache.New(cache.Config[pair, string]{})
	for i := range 5000 {
		ci.Set(i, fmt.Sprint(i))
		cu.Set(uint32(i), fmt.Sprint(i))
		cp.Set(pair{"k", i}, fmt.Sprint(i))
	}
	for i := range 5000 {
		want := fmt.Sprint(i)
		if v, ok := ci.Get(i); !ok || v != want {
			t.Fatalf("int Get(%d) = %q, %v; want %q, true", i, v, ok, want)
		}
		if v, ok := cu.Get(uint32(i)); !ok || v != want {
			t.Fatalf("uint32 Get(%d) = %q, %v; want %q, true", i, v, ok, want)
		}
		if v, ok := cp.Get(pair{"k", i}); !ok || v != want {
			t.Fatalf("struct Get(%d) = %q, %v; want %q, true", i, v, ok, want)
		}
	}
}

func TestMaxEntriesBound(t *testing.T) {
	t.Parallel()
	for _, max := range []int{1, 7, 100, 5000} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			t.Parallel()
			c := cache.New(cache.Config[int, int]{MaxEntries: max})
			for i := range 20 * max {
				c.Set(i, i)
				if n := c.Len(); n > max {
					t.Fatalf("Len() after %d Sets = %d; want <= %d", i+1, n, max)
				}
			}
			if n := c.Len(); n != max {
				t.Errorf("Len() after filling = %d; want %d", n, max)
			}
		})
	}
}

// TestFloodOfRandomKeys: many goroutines writing and loading random keys
// never push the cache past its bound, and hot keys survive the flood.
func TestFloodOfRandomKeys(t *testing.T) {
	t.Parallel()
	const max = 2048
	c := cache.New(cache.Config[uint64, int]{MaxEntries: max})
	defer c.Close()
	for i := range 100 {
		c.Set(uint64(i), i)
		c.Get(uint64(i))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 20_000 {
				c.Set(r.Uint64()|1<<63, i)
				if i%4 == 0 {
					// the hot keys keep being read
					c.Get(uint64(i % 100))
				}
				if n := c.Len(); n > max {
					t.Errorf("Len() = %d during the flood; want <= %d", n, max)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > max {
		t.Fatalf("Len() after the flood = %d; want <= %d", n, max)
	}
	kept := 0
	for i := range 100 {
		if _, ok := c.Get(uint64(i)); ok {
			kept++
		}
	}
	if kept < 90 {
		t.Errorf("%d of 100 hot keys survived a flood of 80,000 one-hit keys; want at least 90", kept)
	}
}

func TestCostBound(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Config[int, string]{
		Cost:    func(_ int, v string) int64 { return int64(len(v)) },
		MaxCost: 1000,
	})
	total := func() int64 {
		var sum int64
		for i := range 1000 {
			if v, ok := c.Get(i); ok {
				sum += int64(len(v))
			}
		}
		return sum
	}
	for i := range 1000 {
		c.Set(i, strings.Repeat("x", 1+i%20))
		if i%50 != 49 {
			continue
		}
		if s := total(); s > 1000 {
			t.Fatalf("total cost after %d Sets = %d; want <= 1000", i+1, s)
		}
	}
	c.Set(5000, strings.Repeat("y", 2000))
	if _, ok := c.Get(5000); ok {
		t.Error("an entry costlier than MaxCost was stored")
	}
	c.Set(1, "small")
	c.Set(1, strings.Repeat("z", 2000))
	if v, ok := c.Get(1); ok {
		t.Errorf("Get(1) after replacing it with a too costly value = %q; want it gone", v)
	}
}

func TestTTL(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(start)
	c := cache.New(cache.Config[string, int]{TTL: time.Minute, Jitter: -1, Clock: clk.Now})
	c.Set("a", 1)
	clk.Advance(time.Minute - time.Nanosecond)
	if _, ok := c.Get("a"); !ok {
		t.Fatal("Get(a) just before its TTL missed")
	}
	clk.Advance(time.Nanosecond)
	if v, ok := c.Get("a"); ok {
		t.Fatalf("Get(a) at its TTL = %d, true; want a miss", v)
	}
}

func TestJitterSpreadsExpiry(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(start)
	c := cache.New(cache.Config[int, int]{TTL: 100 * time.Second, Jitter: 50 * time.Second, Clock: clk.Now})
	for i := range 1000 {
		c.Set(i, i)
	}
	count := func() int {
		n := 0
		for i := range 1000 {
			if _, ok := c.Get(i); ok {
				n++
			}
		}
		return n
	}
	clk.Advance(50*time.Second + time.Nanosecond)
	if n := count(); n != 1000 {
		t.Errorf("fresh entries %v after Set (TTL 100s, Jitter 50s) = %d; want 1000", 50*time.Second, n)
	}
	clk.Advance(25 * time.Second)
	if n := count(); n < 300 || n > 700 {
		t.Errorf("fresh entries 75s after Set = %d; want about half of 1000", n)
	}
	clk.Advance(25 * time.Second)
	if n := count(); n != 0 {
		t.Errorf("fresh entries 100s after Set = %d; want 0", n)
	}
}

func TestExpiredEntriesAreEvictedFirst(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(start)
	c := cache.New(cache.Config[int, int]{MaxEntries: 100, TTL: time.Second, Jitter: -1, Clock: clk.Now})
	for i := range 100 {
		c.Set(i, i)
		c.Get(i) // popular: frequency would keep them against live newcomers
		c.Get(i)
	}
	clk.Advance(2 * time.Second)
	for i := 100; i < 200; i++ {
		c.Set(i, i)
	}
	for i := 100; i < 200; i++ {
		if _, ok := c.Get(i); !ok {
			t.Fatalf("Get(%d) missed: a live entry was evicted while expired ones remained", i)
		}
	}
}

func TestNewPanics(t *testing.T) {
	t.Parallel()
	cost := func(int, int) int64 { return 1 }
	for _, tc := range []struct {
		name string
		cfg  cache.Config[int, int]
		want string
	}{
		{"negative MaxEntries", cache.Config[int, int]{MaxEntries: -1}, "cache.New: MaxEntries must not be negative"},
		{"MaxEntries with Cost", cache.Config[int, int]{MaxEntries: 5, Cost: cost, MaxCost: 5}, "cache.New: MaxEntries is set together with Cost"},
		{"Cost without MaxCost", cache.Config[int, int]{Cost: cost}, "cache.New: MaxCost must be at least 1"},
		{"MaxCost without Cost", cache.Config[int, int]{MaxCost: 5}, "cache.New: MaxCost is 5 but Cost is nil"},
		{"negative TTL", cache.Config[int, int]{TTL: -1}, "cache.New: TTL must not be negative"},
		{"Jitter not below TTL", cache.Config[int, int]{TTL: time.Second, Jitter: time.Second}, "cache.New: Jitter must be less than TTL"},
		{"Jitter without TTL", cache.Config[int, int]{Jitter: time.Second}, "cache.New: Jitter must be less than TTL"},
		{"negative StaleWhileRevalidate", cache.Config[int, int]{StaleWhileRevalidate: -1}, "cache.New: StaleWhileRevalidate must not be negative"},
		{"negative StaleIfError", cache.Config[int, int]{StaleIfError: -1}, "cache.New: StaleIfError must not be negative"},
		{"negative NegativeTTL", cache.Config[int, int]{NegativeTTL: -1}, "cache.New: NegativeTTL must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, tc.want) {
					t.Errorf("New(%s) panicked with %q; want prefix %q", tc.name, msg, tc.want)
				}
			}()
			cache.New(tc.cfg)
		})
	}
}

// TestNilOptions: nil Clock, MeterProvider and Logger mean the defaults.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Config[string, int]{TTL: time.Hour, Clock: nil, MeterProvider: nil, Logger: nil})
	defer c.Close()
	c.Set("a", 1)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Errorf("Get(a) with nil options = %d, %v; want 1, true", v, ok)
	}
}

// TestConcurrentReadersAndWriters exercises the lock-free read path against
// writers, deletes and table growth under -race: a reader must only ever
// see a value some writer stored for that key.
func TestConcurrentReadersAndWriters(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Config[int, [2]int]{MaxEntries: 4096})
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 2))
			for range 30_000 {
				k := r.IntN(8192)
				if v, ok := c.Get(k); ok && v[0] != k {
					t.Errorf("Get(%d) = %v; want a value stored under %d", k, v, k)
					return
				}
			}
		})
	}
	for i := range 30_000 {
		k := i % 8192
		switch i % 5 {
		case 4:
			c.Delete(k)
		default:
			c.Set(k, [2]int{k, i})
		}
	}
	wg.Wait()
}
