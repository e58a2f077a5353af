package redislock_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// guard bounds the waits of a test so that a broken locker fails it
// instead of hanging it. It is never what a test expects to pass.
const guard = 10 * time.Second

// backend is one Redis the tests run against.
type backend struct {
	mr     *miniredis.Miniredis // nil for a real Redis
	addr   string
	prefix string        // unique per test
	ttl    time.Duration // the TTL the test's lockers use
}

// client returns a new client of the backend, closed at cleanup.
func (b *backend) client(t *testing.T) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: b.addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// expire lets key's TTL pass: at once on miniredis, on the real Redis by
// waiting until the server has expired it.
func (b *backend) expire(t *testing.T, c *redis.Client, key string) {
	t.Helper()
	if b.mr != nil {
		b.mr.FastForward(b.ttl)
		return
	}
	deadline := time.Now().Add(guard)
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	for range tk.C {
		n, err := c.Exists(context.Background(), key).Result()
		if err != nil {
			t.Fatalf("EXISTS %s: %v", key, err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not expire", key)
		}
	}
}

// forEachBackend runs f against miniredis and, when CHASSIS_REDIS_ADDR is
// set, against that real Redis, with a key prefix unique to the test.
// Miniredis's clock moves only when told, so its TTL can be long (it is
// fast-forwarded) and spares slow Lua under -race spurious renewal
// timeouts; the real Redis uses a short one.
func forEachBackend(t *testing.T, f func(t *testing.T, b *backend)) {
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		f(t, &backend{mr: mr, addr: mr.Addr(), prefix: uniquePrefix(), ttl: 1500 * time.Millisecond})
	})
	t.Run("redis", func(t *testing.T) {
		addr := os.Getenv("CHASSIS_REDIS_ADDR")
		if addr == "" {
			t.Skip("CHASSIS_REDIS_ADDR is not set; the miniredis subtest ran instead")
		}
		b := &backend{addr: addr, prefix: uniquePrefix(), ttl: 600 * time.Millisecond}
		c := b.client(t)
		t.Cleanup(func() {
			ctx := context.Background()
			iter := c.Scan(ctx, 0, b.prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		})
		f(t, b)
	})
}

func uniquePrefix() string { return fmt.Sprintf("chassis-test:tick:%016x:", rand.Uint64()) }
