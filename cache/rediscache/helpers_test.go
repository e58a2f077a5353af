package rediscache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/cache/rediscache"
)

// newMini starts a miniredis and a client for it (no retries, so failure
// tests see each failure once); both are closed at cleanup. Tests of
// behaviour that must hold on every deployment use redistest.ForEach
// instead.
func newMini(t testing.TB) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return mr, c
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
