package redisreplay_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/internal/redistest"
	"github.com/chassis-go/chassis/webhook"
	"github.com/chassis-go/chassis/webhook/redisreplay"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// forEachBackend runs f against miniredis (b.Mini non-nil), the real Redis
// at CHASSIS_REDIS_ADDR and the real Redis Cluster at
// CHASSIS_REDIS_CLUSTER_ADDRS (see internal/redistest), with a unique key
// prefix whose keys are deleted at cleanup.
func forEachBackend(t *testing.T, f func(t *testing.T, b redistest.Backend)) {
	redistest.ForEach(t, f)
}

func TestCache(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		clock := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		c := redisreplay.New(b.NewClient(t), redisreplay.WithPrefix(b.Prefix), redisreplay.WithClock(clock.Now))
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
		key := b.Prefix + "{" + hex.EncodeToString(sum[:]) + "}" // hashed id, hash-tagged
		ttl := b.NewClient(t).PTTL(ctx, key).Val()
		if ttl <= 4*time.Minute || ttl > 5*time.Minute {
			t.Errorf("PTTL = %v; want the time left until expiry (5m)", ttl)
		}
		if b.Mini != nil {
			b.Mini.FastForward(5 * time.Minute)
			if fresh, _ := c.Claim(ctx, "msg_1", exp.Add(time.Hour)); !fresh {
				t.Error("id still claimed after its expiry")
			}
		}
	})
}

// TestReplicas sends one signed message to two replicas at once, many
// times over: exactly one delivery reaches a handler.
func TestReplicas(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b redistest.Backend) {
		v, _ := webhook.NewVerifier(secret)
		var handled atomic.Int64
		var replicas [2]http.Handler
		for i := range replicas {
			cache := redisreplay.New(b.NewClient(t), redisreplay.WithPrefix(b.Prefix))
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

// TestRedisDown cuts the network between a replica and Redis: Claim
// fails, on every deployment.
func TestRedisDown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b redistest.Backend) {
		c, cut := b.CutClient(t, func(o *redis.UniversalOptions) {
			o.MaxRetries, o.DialerRetries, o.DialerRetryTimeout = -1, 1, time.Millisecond
		})
		cache := redisreplay.New(c, redisreplay.WithPrefix(b.Prefix))
		if fresh, err := cache.Claim(context.Background(), "before", time.Now().Add(time.Minute)); !fresh || err != nil {
			t.Fatalf("Claim before the cut = %v, %v; want true, nil", fresh, err)
		}
		cut()
		if _, err := cache.Claim(context.Background(), "m", time.Now().Add(time.Minute)); err == nil {
			t.Error("Claim with Redis down = nil error")
		}
	})
}

// Every id is one key, its own hash tag (the id's SHA-256): the keys of
// different ids spread across every master of a cluster.
func TestClusterSlots(t *testing.T) {
	b := redistest.Cluster(t)
	ctx := context.Background()
	cache := redisreplay.New(b.Client, redisreplay.WithPrefix(b.Prefix))
	for i := range 100 {
		if fresh, err := cache.Claim(ctx, fmt.Sprintf("msg_%d", i), time.Now().Add(time.Minute)); !fresh || err != nil {
			t.Fatalf("Claim(msg_%d) = %v, %v; want true, nil", i, fresh, err)
		}
	}
	if err := cache.Forget(ctx, "msg_0"); err != nil {
		t.Fatalf("Forget = %v", err)
	}
	redistest.AssertSpread(t, b.Client, b.Prefix+"*")
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

// TestPrefixWithBracePanics: a brace in the prefix would become every
// key's hash tag and put all ids on one Redis Cluster slot.
func TestPrefixWithBracePanics(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialed
	defer func() { _ = c.Close() }()
	redistest.AssertBracePrefixPanics(t, "redisreplay", func(prefix string) { redisreplay.New(c, redisreplay.WithPrefix(prefix)) })
}
