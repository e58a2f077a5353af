package cache_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/chassis-go/chassis/cache"
)

const benchKeys = 1 << 14

func benchCache(b *testing.B) (*cache.Cache[string, int], []string) {
	c := cache.New(cache.Config[string, int]{MaxEntries: 2 * benchKeys})
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
		c.Set(keys[i], i)
	}
	return c, keys
}

func BenchmarkGetHit(b *testing.B) {
	c, keys := benchCache(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(benchKeys)
		for pb.Next() {
			if _, ok := c.Get(keys[i&(benchKeys-1)]); !ok {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

func BenchmarkSet(b *testing.B) {
	c, keys := benchCache(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(benchKeys)
		for pb.Next() {
			c.Set(keys[i&(benchKeys-1)], i)
			i++
		}
	})
}

func BenchmarkGetOrLoadHit(b *testing.B) {
	c, keys := benchCache(b)
	defer c.Close()
	var loads atomic.Int64
	load := func(context.Context, string) (int, error) { loads.Add(1); return 0, nil }
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(benchKeys)
		for pb.Next() {
			c.GetOrLoad(ctx, keys[i&(benchKeys-1)], load)
			i++
		}
	})
	if n := loads.Load(); n != 0 {
		b.Errorf("%d loads on a warm cache; want 0", n)
	}
}
