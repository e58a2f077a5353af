package rediscache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/cache/rediscache"
)

// newMini starts a miniredis and a client for it; both are closed at
// cleanup.
func newMini(t testing.TB) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return mr, c
}

// uniquePrefix is a key prefix no other test (or concurrent suite sharing
// the same Redis) uses.
func uniquePrefix() string { return fmt.Sprintf("chassis-test:%016x:", rand.Uint64()) }

// realClient returns a new client for the Redis at CHASSIS_REDIS_ADDR, or
// skips. Keys with prefix are deleted at cleanup.
func realClient(t *testing.T, prefix string) *redis.Client {
	t.Helper()
	addr := os.Getenv("CHASSIS_REDIS_ADDR")
	if addr == "" {
		t.Skip("CHASSIS_REDIS_ADDR is not set; the miniredis run covers this test")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleanup: SCAN %s*: %v", prefix, err)
		}
		_ = c.Close()
	})
	return c
}

// backend gives a test clients of one Redis: newClient returns a client of
// its own (a replica), all sharing the test's unique prefix.
type backend struct {
	prefix    string
	newClient func() *redis.Client
	mini      *miniredis.Miniredis // nil for a real Redis
}

// forEachBackend runs f against miniredis and, when CHASSIS_REDIS_ADDR is
// set, against that real Redis.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Run("miniredis", func(t *testing.T) {
		mr, _ := newMini(t)
		f(t, backend{prefix: uniquePrefix(), mini: mr, newClient: func() *redis.Client {
			c := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
			t.Cleanup(func() { _ = c.Close() })
			return c
		}})
	})
	t.Run("redis", func(t *testing.T) {
		prefix := uniquePrefix()
		first := realClient(t, prefix)
		used := false
		f(t, backend{prefix: prefix, newClient: func() *redis.Client {
			if !used {
				used = true
				return first
			}
			c := redis.NewClient(&redis.Options{Addr: os.Getenv("CHASSIS_REDIS_ADDR")})
			t.Cleanup(func() { _ = c.Close() })
			return c
		}})
	})
}

// replica is a Cache whose listener's events arrive on a channel.
type replica struct {
	*rediscache.Cache[string]
	events chan string
}

// newReplica builds a Cache on client and waits until it is subscribed.
// The Cache is closed at cleanup.
func newReplica(t *testing.T, client redis.UniversalClient, cfg rediscache.Config[string]) replica {
	t.Helper()
	events := make(chan string, 1000)
	c := rediscache.NewWithHook(client, cfg, func(kind string) { events <- kind })
	t.Cleanup(c.Close)
	r := replica{c, events}
	r.await(t, "subscribe")
	return r
}

// await waits for the listener's next event, which must be kind.
func (r replica) await(t *testing.T, kind string) {
	t.Helper()
	select {
	case got := <-r.events:
		if got != kind {
			t.Fatalf("listener event = %q; want %q", got, kind)
		}
	case <-time.After(10 * time.Second): // a deadline for a broken test, not a wait for time to pass
		t.Fatalf("no %q event from the listener within 10s", kind)
	}
}

func loadValue(v string) func(context.Context, string) (string, error) {
	return func(context.Context, string) (string, error) { return v, nil }
}

// mustNotLoad fails the test if it is called.
func mustNotLoad(t *testing.T) func(context.Context, string) (string, error) {
	return func(_ context.Context, k string) (string, error) {
		t.Errorf("load(%q) called; want the value from a cache tier", k)
		return "", fmt.Errorf("unexpected load")
	}
}
