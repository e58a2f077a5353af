package redislock_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/internal/redistest"
)

// guard bounds the waits of a test so that a broken locker fails it
// instead of hanging it. It is never what a test expects to pass.
const guard = 10 * time.Second

// backend is one Redis deployment the tests run against, with the TTL the
// test's lockers use.
type backend struct {
	redistest.Backend
	ttl time.Duration
}

// client returns a new client of the backend, closed at cleanup.
func (b *backend) client(t *testing.T) redis.UniversalClient { return b.NewClient(t) }

// expire lets key's TTL pass: at once on miniredis, on a real Redis by
// waiting until the server has expired it.
func (b *backend) expire(t *testing.T, key string) { b.Expire(t, key, b.ttl) }

// forEachBackend runs f against miniredis, the real Redis at
// CHASSIS_REDIS_ADDR and the real Redis Cluster at
// CHASSIS_REDIS_CLUSTER_ADDRS (see internal/redistest), each with a key
// prefix unique to the test. The TTLs are long enough that a call (bounded
// by TTL/3) does not time out on a loaded CI machine under -race;
// miniredis's clock moves only when told, so its expiry costs no waiting.
func forEachBackend(t *testing.T, f func(t *testing.T, b *backend)) {
	redistest.ForEach(t, func(t *testing.T, rb redistest.Backend) {
		ttl := 2 * time.Second
		if rb.Mini != nil {
			ttl = 3 * time.Second
		}
		f(t, &backend{Backend: rb, ttl: ttl})
	})
}
