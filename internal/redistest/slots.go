package redistest

import (
	"context"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/internal/rediskey"
)

// AssertOneSlot fails t unless the cluster puts every key in one hash slot,
// as the server computes it (CLUSTER KEYSLOT), and returns that slot. A
// script, MULTI or multi-key command over keys in different slots fails on
// Redis Cluster with CROSSSLOT; the keys one operation touches must pass
// this.
func AssertOneSlot(t testing.TB, c redis.UniversalClient, keys ...string) int64 {
	t.Helper()
	slot := int64(-1)
	for _, k := range keys {
		s, err := c.ClusterKeySlot(context.Background(), k).Result()
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %s: %v", k, err)
		}
		if slot >= 0 && s != slot {
			t.Errorf("key %q is in slot %d, %q in slot %d; want one slot for %q", keys[0], slot, k, s, keys)
		}
		if slot < 0 {
			slot = s
		}
	}
	return slot
}

// KeysPerMaster counts the keys matching pattern on each master of the
// cluster, by the master's address. Every master appears, with 0 if it holds
// none.
func KeysPerMaster(t testing.TB, c *redis.ClusterClient, pattern string) map[string]int {
	t.Helper()
	var mu sync.Mutex
	out := map[string]int{}
	err := c.ForEachMaster(context.Background(), func(ctx context.Context, m *redis.Client) error {
		n := 0
		iter := m.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		mu.Lock()
		out[m.Options().Addr] = n
		mu.Unlock()
		return iter.Err()
	})
	if err != nil {
		t.Fatalf("SCAN %s on the masters: %v", pattern, err)
	}
	return out
}

// AssertSpread fails t unless every master of the cluster c holds at least
// one key matching pattern: the keys of different records (written by the
// test beforehand, a hundred is plenty for three masters) are spread across
// the nodes, not pinned to one slot by a shared hash tag. It returns the
// count per master.
func AssertSpread(t testing.TB, c redis.UniversalClient, pattern string) map[string]int {
	t.Helper()
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("AssertSpread: %T is not a *redis.ClusterClient", c)
	}
	per := KeysPerMaster(t, cc, pattern)
	if len(per) < 2 {
		t.Fatalf("the cluster has %d master(s); want at least 2 to show the spread", len(per))
	}
	for addr, n := range per {
		if n == 0 {
			t.Errorf("master %s holds no key matching %s (per master: %v); want the keys spread across every master", addr, pattern, per)
		}
	}
	return per
}

// AssertBracePrefixPanics checks that newWithPrefix, a package's New with
// WithPrefix(prefix), panics for prefixes containing a brace with
// rediskey.CheckPrefix's error after "<pkg>.New: ".
func AssertBracePrefixPanics(t *testing.T, pkg string, newWithPrefix func(prefix string)) {
	t.Helper()
	for _, prefix := range []string{"app{1}:", "app{", "app}"} {
		want := pkg + ".New: " + rediskey.CheckPrefix(prefix).Error()
		func() {
			defer func() {
				if got, _ := recover().(string); got != want {
					t.Errorf("New(WithPrefix(%q)) panic = %q; want %q", prefix, got, want)
				}
			}()
			newWithPrefix(prefix)
		}()
	}
}
