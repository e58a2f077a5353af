package redislimit_test

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/guard/redislimit"
)

// unlimited never denies at benchmark speeds (T = 1µs, bursts of 10^9), so
// every decision is a Redis round trip.
var unlimited = guard.Limit{Rate: 1_000_000_000, Per: time.Second}

func reportRate(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkAllowRedis measures decisions against the real Redis at
// CHASSIS_REDIS_ADDR (skipped without it): one key or 10,000, from one
// goroutine or GOMAXPROCS (b.RunParallel), with a client that honours
// context deadlines (the direct path) or not (a goroutine per call).
func BenchmarkAllowRedis(b *testing.B) {
	addr := os.Getenv("CHASSIS_REDIS_ADDR")
	if addr == "" {
		b.Skip("CHASSIS_REDIS_ADDR is not set")
	}
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "client-" + strconv.Itoa(i)
	}
	for _, ctxTimeouts := range []bool{true, false} {
		path := "direct"
		if !ctxTimeouts {
			path = "goroutine"
		}
		_, prefix := newReal(b) // deletes the keys at cleanup
		rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: ctxTimeouts})
		b.Cleanup(func() { _ = rdb.Close() })
		lim := redislimit.New(rdb, unlimited, redislimit.WithPrefix(prefix), redislimit.WithTimeout(time.Second))
		ctx := context.Background()
		b.Run(path+"/single-key", func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, err := lim.Allow(ctx, "hot"); err != nil {
					b.Fatal(err)
				}
				n++
			}
			reportRate(b, n)
		})
		b.Run(path+"/many-keys", func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, err := lim.Allow(ctx, keys[n%len(keys)]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			reportRate(b, n)
		})
		b.Run(path+"/parallel-single-key", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := lim.Allow(ctx, "hot"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b, b.N)
		})
		b.Run(path+"/parallel-many-keys", func(b *testing.B) {
			b.ReportAllocs()
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := lim.Allow(ctx, keys[next.Add(1)%int64(len(keys))]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b, b.N)
		})
	}
}

// BenchmarkDenyCacheHit measures a denial answered locally, the cost of a
// hot-key attack once the key is denied.
func BenchmarkDenyCacheHit(b *testing.B) {
	_, c := newMini(b)
	lim := redislimit.New(c, guard.Limit{Rate: 1, Per: time.Hour}, patient)
	ctx := context.Background()
	lim.Allow(ctx, "hot") // admitted
	if d, err := lim.Allow(ctx, "hot"); err != nil || d.Allowed {
		b.Fatalf("Allow = %+v, %v; want denied", d, err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if d, _ := lim.Allow(ctx, "hot"); d.Allowed {
			b.Fatal("Allow admitted a denied key")
		}
		n++
	}
	reportRate(b, n)
}

func BenchmarkRedisKey(b *testing.B) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	b.Cleanup(func() { _ = c.Close() })
	lim := redislimit.New(c, unlimited)
	for _, key := range []string{"203.0.113.7", string(make([]byte, 300))} {
		b.Run(strconv.Itoa(len(key))+"B", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = lim.RedisKey(key)
			}
		})
	}
}
