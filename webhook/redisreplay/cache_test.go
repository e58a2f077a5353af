package redisreplay_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/webhook"
	"github.com/chassis-go/chassis/webhook/redisreplay"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// forEachBackend runs f against miniredis (mini non-nil) and against the
// real Redis and Redis Cluster when CHASSIS_REDIS_ADDR and
// CHASSIS_REDIS_CLUSTER_ADDRS (comma-separated seeds) are set, with a
// unique key prefix whose keys are deleted at cleanup. An unset variable
// skips that backend, except under CI=true, where it fails the test.
func forEachBackend(t *testing.T, f func(t *testing.T, addrs []string, mini *miniredis.Miniredis, prefix string)) {
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		f(t, []string{mr.Addr()}, mr, uniquePrefix())
	})
	for _, real := range []struct{ name, env string }{{"redis", "CHASSIS_REDIS_ADDR"}, {"cluster", "CHASSIS_REDIS_CLUSTER_ADDRS"}} {
		t.Run(real.name, func(t *testing.T) {
			v := os.Getenv(real.env)
			if v == "" {
				if os.Getenv("CI") == "true" {
					t.Fatalf("%s is not set; CI must run these tests against the real server", real.env)
				}
				t.Skipf("%s is not set; the miniredis subtest ran instead", real.env)
			}
			addrs, prefix := strings.Split(v, ","), uniquePrefix()
			c := client(t, addrs)
			t.Cleanup(func() {
				ctx := context.Background()
				del := func(ctx context.Context, c *redis.Client) error {
					iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
					for iter.Next(ctx) {
						c.Del(ctx, iter.Val())
					}
					return iter.Err()
				}
				switch c := c.(type) {
				case *redis.ClusterClient:
					_ = c.ForEachMaster(ctx, del)
				case *redis.Client:
					_ = del(ctx, c)
				}
			})
			f(t, addrs, nil, prefix)
		})
	}
}

func uniquePrefix() string { return fmt.Sprintf("chassis-test:webhook:%016x:", rand.Uint64()) }

// client returns a new client (a cluster client for several seeds), closed
// at cleanup.
func client(t *testing.T, addrs []string) redis.UniversalClient {
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestCache(t *testing.T) {
	forEachBackend(t, func(t *testing.T, addrs []string, mini *miniredis.Miniredis, prefix string) {
		ctx := context.Background()
		clock := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		c := redisreplay.New(client(t, addrs), redisreplay.WithPrefix(prefix), redisreplay.WithClock(clock.Now))
		exp := clock.Now().Add(5 * time.Minute)
		for i, want := range []bool{true, false} {
			if fresh, err := c.Claim(ctx, "msg_1", exp); fresh != want || err != nil {
				t.Fatalf("Claim %d = %v, %v; want %v, nil", i, fresh, err, want)
			}
		}
		if err := c.Forget(ctx, "msg_1"); err != nil {
			t.Fatal(err)
		}
		if fresh, err := c.Claim(ctx, "msg_1", exp); !fresh || err != nil {
			t.Fatalf("Claim after Forget = %v, %v; want true, nil", fresh, err)
		}
		sum := sha256.Sum256([]byte("msg_1"))
		key := prefix + "{" + hex.EncodeToString(sum[:]) + "}" // hashed id, hash-tagged
		ttl := client(t, addrs).PTTL(ctx, key).Val()
		if ttl <= 4*time.Minute || ttl > 5*time.Minute {
			t.Errorf("PTTL = %v; want the time left until expiry (5m)", ttl)
		}
		if mini != nil {
			mini.FastForward(5 * time.Minute)
			if fresh, _ := c.Claim(ctx, "msg_1", exp.Add(time.Hour)); !fresh {
				t.Error("id still claimed after its expiry")
			}
		}
	})
}

// TestReplicas sends one signed message to two replicas at once, many
// times over: exactly one delivery reaches a handler.
func TestReplicas(t *testing.T) {
	forEachBackend(t, func(t *testing.T, addrs []string, _ *miniredis.Miniredis, prefix string) {
		v, _ := webhook.NewVerifier(secret)
		var handled atomic.Int64
		var replicas [2]http.Handler
		for i := range replicas {
			cache := redisreplay.New(client(t, addrs), redisreplay.WithPrefix(prefix))
			replicas[i] = v.Middleware(webhook.WithReplayCache(cache))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				handled.Add(1)
			}))
		}
		now := time.Now()
		sig, _ := webhook.Sign(secret, "msg_race", now, []byte("x"))
		var wg sync.WaitGroup
		codes := make([]int, 16)
		for i := range codes {
			wg.Go(func() {
				r := httptest.NewRequest("POST", "/hook", strings.NewReader("x"))
				r.Header.Set(webhook.HeaderID, "msg_race")
				r.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
				r.Header.Set(webhook.HeaderSignature, sig)
				w := httptest.NewRecorder()
				replicas[i%2].ServeHTTP(w, r)
				codes[i] = w.Code
			})
		}
		wg.Wait()
		ok := 0
		for _, c := range codes {
			if c == 200 {
				ok++
			} else if c != 401 {
				t.Errorf("status %d; want 200 or 401", c)
			}
		}
		if ok != 1 || handled.Load() != 1 {
			t.Errorf("%d accepted, handler ran %d times; want 1 and 1", ok, handled.Load())
		}
	})
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer func() { _ = c.Close() }()
	mr.Close()
	if _, err := redisreplay.New(c).Claim(context.Background(), "m", time.Now().Add(time.Minute)); err == nil {
		t.Error("Claim with Redis down = nil error")
	}
}

func TestNilOptions(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer func() { _ = c.Close() }()
	cache := redisreplay.New(c, nil, redisreplay.WithPrefix(""), redisreplay.WithClock(nil))
	if fresh, err := cache.Claim(context.Background(), "m", time.Now().Add(time.Minute)); !fresh || err != nil {
		t.Fatalf("Claim = %v, %v", fresh, err)
	}
	if keys := mr.Keys(); len(keys) != 1 || !strings.HasPrefix(keys[0], redisreplay.DefaultPrefix) {
		t.Errorf("keys = %v; want one under the default prefix", keys)
	}
}
