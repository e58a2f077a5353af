package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/guard/redislimit"
)

// redisImpl is one distributed limiter: allow reports whether an event on
// key is admitted under the limit it was built with.
type redisImpl struct {
	name  string
	allow func(ctx context.Context, key string) (bool, error)
}

// redisImpls returns chassis's and redis_rate's limiters for rate events per
// per with bursts of rate, each with its own client (ContextTimeoutEnabled,
// default pool) to the Redis at CHASSIS_REDIS_ADDR, and a unique tag that
// every key used must contain: keys holding it are deleted at cleanup. It
// skips b if CHASSIS_REDIS_ADDR is unset.
//
// Both run GCRA in one Lua script per decision on Redis server time.
// chassis's per-call timeout is raised from 50ms to 1s so that a loaded
// machine does not turn slow calls into degraded decisions; redis_rate has no
// timeout of its own. chassis's deny cache is on (its default).
func redisImpls(b *testing.B, rate int, per time.Duration) ([]redisImpl, string) {
	addr := os.Getenv("CHASSIS_REDIS_ADDR")
	if addr == "" {
		b.Skip("CHASSIS_REDIS_ADDR is not set")
	}
	newClient := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
		if err := c.Ping(context.Background()).Err(); err != nil {
			b.Fatalf("redis at %s: %v", addr, err)
		}
		return c
	}
	tag := fmt.Sprintf("chassis-bench-%016x", rand.Uint64())
	cc, rc := newClient(), newClient()
	b.Cleanup(func() {
		ctx := context.Background()
		iter := cc.Scan(ctx, 0, "*"+tag+"*", 1000).Iterator()
		for iter.Next(ctx) {
			cc.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			b.Errorf("cleanup: SCAN *%s*: %v", tag, err)
		}
		_ = cc.Close()
		_ = rc.Close()
	})

	cl := redislimit.New(cc, guard.Limit{Rate: rate, Per: per}, redislimit.WithTimeout(time.Second))
	rl := redis_rate.NewLimiter(rc)
	rlimit := redis_rate.Limit{Rate: rate, Period: per, Burst: rate}
	return []redisImpl{
		{"chassis", func(ctx context.Context, key string) (bool, error) {
			d, err := cl.Allow(ctx, key)
			return d.Allowed, err
		}},
		{"redisrate", func(ctx context.Context, key string) (bool, error) {
			r, err := rl.Allow(ctx, key, rlimit)
			if err != nil {
				return false, err
			}
			return r.Allowed > 0, nil
		}},
	}, tag
}

// redisKeys returns n keys containing tag.
func redisKeys(tag string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = tag + ":client-" + strconv.Itoa(i)
	}
	return keys
}

// reportDecisions reports the throughput of b as decisions per second.
func reportDecisions(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkRedisAllow is one admitted decision on the local Redis, one at a
// time, cycling over 1,000 keys with a limit (1M/s) that admits everything:
// one round trip each, for both.
func BenchmarkRedisAllow(b *testing.B) {
	impls, tag := redisImpls(b, 1_000_000, time.Second)
	keys := redisKeys(tag, 1000)
	ctx := context.Background()
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				ok, err := impl.allow(ctx, keys[i%len(keys)])
				if err != nil || !ok {
					b.Fatalf("allow = %v, %v; want true, nil", ok, err)
				}
				i++
			}
			reportDecisions(b)
		})
	}
}

// BenchmarkRedisAllowParallel is BenchmarkRedisAllow from 16 goroutines
// (b.SetParallelism(8) on 2 cores), the pool's throughput under concurrent
// requests.
func BenchmarkRedisAllowParallel(b *testing.B) {
	impls, tag := redisImpls(b, 1_000_000, time.Second)
	keys := redisKeys(tag, 1000)
	ctx := context.Background()
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			var next atomic.Uint64
			b.SetParallelism(8)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1)) * 97
				for pb.Next() {
					ok, err := impl.allow(ctx, keys[i%len(keys)])
					if err != nil || !ok {
						b.Errorf("allow = %v, %v; want true, nil", ok, err)
						return
					}
					i++
				}
			})
			reportDecisions(b)
		})
	}
}

// BenchmarkRedisDeniedHotKey is one denied decision on a key whose single
// allowance per hour is spent: a client hammering one key. chassis answers
// from its deny cache without a round trip until RetryAfter passes (the
// answer is the same Redis would give, see redislimit.WithDenyCache);
// redis_rate asks Redis every time. This measures that design difference,
// not the speed of the scripts.
func BenchmarkRedisDeniedHotKey(b *testing.B) {
	impls, tag := redisImpls(b, 1, time.Hour)
	key := tag + ":hot"
	ctx := context.Background()
	for _, impl := range impls {
		if ok, err := impl.allow(ctx, key); err != nil || !ok {
			b.Fatalf("%s: first allow = %v, %v; want true, nil", impl.name, ok, err)
		}
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ok, err := impl.allow(ctx, key)
				if err != nil || ok {
					b.Fatalf("allow = %v, %v; want false, nil", ok, err)
				}
			}
			reportDecisions(b)
		})
	}
}
