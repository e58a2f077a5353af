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
//
// Besides the backends it has what the Redis-backed packages' tests share:
// more clients of one backend ([Backend.NewClient]), a network cut
// ([Backend.CutClient], [Proxy]), the key/slot checks of the Cluster design
// ([AssertOneSlot], [AssertSpread]) and a private cluster that a failover
// test may stop a master of ([StartCluster]) without disturbing the shared
// one.
package redistest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

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
	// Addrs are the server's address, or the cluster's seed addresses.
	Addrs []string
}

// IsCluster reports whether b is a Redis Cluster.
func (b Backend) IsCluster() bool {
	_, ok := b.Client.(*redis.ClusterClient)
	return ok
}

// NewClient returns another client of b's deployment (a cluster client for a
// cluster), with ContextTimeoutEnabled, closed at cleanup. edit, if given,
// changes its options first. A test may close it early; it must never close
// b.Client, which cleanup uses to delete the test's keys.
func (b Backend) NewClient(t testing.TB, edit ...func(*redis.UniversalOptions)) redis.UniversalClient {
	t.Helper()
	o := &redis.UniversalOptions{Addrs: b.Addrs, ContextTimeoutEnabled: true}
	for _, e := range edit {
		e(o)
	}
	var c redis.UniversalClient
	if b.IsCluster() {
		c = redis.NewClusterClient(o.Cluster())
	} else {
		c = redis.NewClient(o.Simple())
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Expire lets key, set with a TTL of at most ttl, expire: at once on
// miniredis by moving its clock by ttl, on a real server by waiting until the
// server has expired it (failing the test if that takes ttl plus 10s).
func (b Backend) Expire(t testing.TB, key string, ttl time.Duration) {
	t.Helper()
	if b.Mini != nil {
		b.Mini.FastForward(ttl)
		return
	}
	err := Poll(ttl+10*time.Second, func() (bool, error) {
		n, err := b.Client.Exists(context.Background(), key).Result()
		return n == 0, err
	})
	if err != nil {
		t.Fatalf("%s did not expire: %v", key, err)
	}
}

// Poll calls cond every 10ms until it reports true, and returns nil then; if
// timeout passes first, it returns an error naming the timeout and cond's
// last error. It is how tests wait for a condition (a key expired, a cluster
// healed) without sleeping for a guessed time.
func Poll(timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within %v (last error: %v)", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
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
	return Backend{Name: "miniredis", Client: c, Prefix: NewPrefix(), Mini: mr, Addrs: []string{mr.Addr()}}
}

// Single returns the real server at CHASSIS_REDIS_ADDR, or skips (fails
// under CI=true) when it is not set.
func Single(t testing.TB) Backend {
	t.Helper()
	addr := need(t, "CHASSIS_REDIS_ADDR")
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	b := Backend{Name: "redis", Client: c, Prefix: NewPrefix(), Addrs: []string{addr}}
	t.Cleanup(func() { cleanup(t, b) })
	return b
}

// Cluster returns the real cluster at CHASSIS_REDIS_CLUSTER_ADDRS, or
// skips (fails under CI=true) when it is not set.
func Cluster(t testing.TB) Backend {
	t.Helper()
	addrs := strings.Split(need(t, "CHASSIS_REDIS_CLUSTER_ADDRS"), ",")
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	b := Backend{Name: "cluster", Client: c, Prefix: NewPrefix(), Addrs: addrs}
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
