package rediscache_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/chassis-go/chassis/cache"
	"github.com/chassis-go/chassis/cache/rediscache"
	"github.com/chassis-go/chassis/internal/redistest"
)

// BenchmarkGetOrLoad measures a lookup answered by the local tier, and one
// that misses locally and is answered by Redis (miniredis over loopback
// TCP: the round trip dominates).
func BenchmarkGetOrLoad(b *testing.B) {
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	for _, bc := range []struct {
		name  string
		local int
	}{{"local_hit", 4096}, {"redis_hit", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			_, client := newMini(b)
			c := rediscache.New(client, rediscache.Config[string]{
				Prefix: redistest.NewPrefix(),
				Local:  cache.Config[string, string]{MaxEntries: bc.local},
			})
			defer c.Close()
			for _, k := range keys {
				if err := c.Set(ctx, k, "value of "+k); err != nil {
					b.Fatal(err)
				}
			}
			load := func(context.Context, string) (string, error) {
				b.Error("load called: every key is in Redis")
				return "", nil
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if _, err := c.GetOrLoad(ctx, keys[i%len(keys)], load); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
