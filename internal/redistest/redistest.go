// Package redistest runs a test against every Redis deployment chassis
// supports: an in-process miniredis (always, so `go test ./...` passes on a
// fresh machine), the real single server at CHASSIS_REDIS_ADDR and the real
// Redis Cluster at CHASSIS_REDIS_CLUSTER_ADDRS (comma-separated seed
// addresses). Without those variables the real backends skip, except under
// CI=true, where a missing one fails the test: CI must prove the real
// servers, never skip them quietly.
//
// Every backend gets its own client and a unique key prefix, and the keys
// under the prefix are deleted at cleanup, so suites sharing one server
// cannot disturb each other.
package redistest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Backend is one Redis a test runs against.
type Backend struct {
	// Name is "miniredis", "redis" or "cluster".
	Name string
	// Client is the backend's client, closed at cleanup.
	Client redis.UniversalClient
	// Prefix is unique to this backend and test; keys must start with it.
	Prefix string
	// Mini is the in-process server for "miniredis" (to fast-forward its
	// clock or stop it), nil otherwise.
	Mini *miniredis.Miniredis
}

// ForEach runs f as a subtest against each backend, in the order miniredis,
// redis, cluster.
func ForEach(t *testing.T, f func(t *testing.T, b Backend)) {
	t.Helper()
	t.Run("miniredis", func(t *testing.T) { f(t, Mini(t)) })
	t.Run("redis", func(t *testing.T) { f(t, Single(t)) })
	t.Run("cluster", func(t *testing.T) { f(t, Cluster(t)) })
}

// Mini starts a miniredis and returns it with a client; both end at
// cleanup.
func Mini(t testing.TB) Backend {
	t.Helper()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return Backend{Name: "miniredis", Client: c, Prefix: NewPrefix(), Mini: mr}
}

// Single returns the real server at CHASSIS_REDIS_ADDR, or skips (fails
// under CI=true) when it is not set.
func Single(t testing.TB) Backend {
	t.Helper()
	addr := need(t, "CHASSIS_REDIS_ADDR")
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	b := Backend{Name: "redis", Client: c, Prefix: NewPrefix()}
	t.Cleanup(func() { cleanup(t, b) })
	return b
}

// Cluster returns the real cluster at CHASSIS_REDIS_CLUSTER_ADDRS, or
// skips (fails under CI=true) when it is not set.
func Cluster(t testing.TB) Backend {
	t.Helper()
	addrs := strings.Split(need(t, "CHASSIS_REDIS_CLUSTER_ADDRS"), ",")
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	b := Backend{Name: "cluster", Client: c, Prefix: NewPrefix()}
	t.Cleanup(func() { cleanup(t, b) })
	return b
}

// NewPrefix returns a unique key prefix such as "chassis-test:9f2c...:".
func NewPrefix() string { return fmt.Sprintf("chassis-test:%016x:", rand.Uint64()) }

func need(t testing.TB, env string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run this test against the real server", env)
		}
		t.Skipf("%s is not set", env)
	}
	return v
}

// cleanup deletes the backend's keys (on every master of a cluster) and
// closes its client.
func cleanup(t testing.TB, b Backend) {
	ctx := context.Background()
	var mu sync.Mutex
	var errs []error
	del := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, b.Prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		return nil
	}
	switch c := b.Client.(type) {
	case *redis.ClusterClient:
		_ = c.ForEachMaster(ctx, del)
	case *redis.Client:
		_ = del(ctx, c)
	}
	for _, err := range errs {
		t.Errorf("cleanup: SCAN %s*: %v", b.Prefix, err)
	}
	_ = b.Client.Close()
}
