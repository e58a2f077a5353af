package redisreplay_test

import (
	"context"
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

// forEachBackend runs f against miniredis (mini non-nil) and, when
// CHASSIS_REDIS_ADDR is set, the real Redis, with a unique key prefix.
func forEachBackend(t *testing.T, f func(t *testing.T, addr string, mini *miniredis.Miniredis, prefix string)) {
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		f(t, mr.Addr(), mr, uniquePrefix())
	})
	t.Run("redis", func(t *testing.T) {
		addr := os.Getenv("CHASSIS_REDIS_ADDR")
		if addr == "" {
			t.Skip("CHASSIS_REDIS_ADDR is not set; the real-Redis half of this test did not run")
		}
		prefix := uniquePrefix()
		t.Cleanup(func() {
			c := redis.NewClient(&redis.Options{Addr: addr})
			defer func() { _ = c.Close() }()
			ctx := context.Background()
			iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		})
		f(t, addr, nil, prefix)
	})
}

func uniquePrefix() string { return fmt.Sprintf("chassis-test:%016x:", rand.Uint64()) }

func client(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestCache(t *testing.T) {
	forEachBackend(t, func(t *testing.T, addr string, mini *miniredis.Miniredis, prefix string) {
		ctx := context.Background()
		clock := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		c := redisreplay.New(client(t, addr), redisreplay.WithPrefix(prefix), redisreplay.WithClock(clock.Now))
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
		keys, _ := client(t, addr).Keys(ctx, prefix+"*").Result()
		if len(keys) != 1 || !strings.HasPrefix(keys[0], prefix+"{") || strings.Contains(keys[0], "msg_1") {
			t.Fatalf("keys = %v; want one hashed, hash-tagged key", keys)
		}
		ttl := client(t, addr).PTTL(ctx, keys[0]).Val()
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
	forEachBackend(t, func(t *testing.T, addr string, _ *miniredis.Miniredis, prefix string) {
		v, _ := webhook.NewVerifier(secret)
		var handled atomic.Int64
		var replicas [2]http.Handler
		for i := range replicas {
			cache := redisreplay.New(client(t, addr), redisreplay.WithPrefix(prefix))
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
