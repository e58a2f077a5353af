package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/idempotency"
	"github.com/chassis-go/chassis/idempotency/redisstore"
	"github.com/chassis-go/chassis/internal/redistest"
)

// backend is a Redis to test against: miniredis (whose clock tests can
// move), the real server at CHASSIS_REDIS_ADDR or the real cluster at
// CHASSIS_REDIS_CLUSTER_ADDRS (see internal/redistest).
type backend struct{ redistest.Backend }

// client returns a new client (a cluster client for the cluster), closed at
// cleanup.
func (b *backend) client(t *testing.T) redis.UniversalClient { return b.NewClient(t) }

// forEachBackend runs f against each backend, with a unique key prefix whose
// keys are deleted at cleanup.
func forEachBackend(t *testing.T, f func(t *testing.T, b *backend)) {
	redistest.ForEach(t, func(t *testing.T, rb redistest.Backend) { f(t, &backend{rb}) })
}

func TestStoreContract(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := redisstore.New(b.client(t), redisstore.WithPrefix(b.Prefix))

		// Claim, refuse, complete, replay.
		if _, ok, err := s.Acquire(ctx, "a", "t1", "f1", time.Minute); !ok || err != nil {
			t.Fatalf("Acquire(a, t1) = %v, %v; want true, nil", ok, err)
		}
		rec, ok, err := s.Acquire(ctx, "a", "t2", "f2", time.Minute)
		if ok || err != nil || rec.Done || rec.Fingerprint != "f1" {
			t.Fatalf("Acquire(a, t2) = %+v, %v, %v; want in-flight f1", rec, ok, err)
		}
		if err := s.Complete(ctx, "a", "t2", idempotency.Record{Fingerprint: "f1", Status: 201}, time.Hour); !errors.Is(err, idempotency.ErrLockLost) {
			t.Fatalf("Complete by a non-holder = %v; want ErrLockLost", err)
		}
		want := idempotency.Record{Fingerprint: "f1", Done: true, Status: 201,
			Header: http.Header{"Location": {"/p/1"}}, Body: []byte(`{"id":1}`)}
		if err := s.Complete(ctx, "a", "t1", want, time.Hour); err != nil {
			t.Fatalf("Complete = %v", err)
		}
		rec, ok, err = s.Acquire(ctx, "a", "t3", "f1", time.Minute)
		if ok || err != nil || !rec.Done || rec.Status != 201 || string(rec.Body) != `{"id":1}` || rec.Header.Get("Location") != "/p/1" {
			t.Fatalf("Acquire after Complete = %+v, %v, %v; want the stored record", rec, ok, err)
		}
		if err := s.Complete(ctx, "a", "t1", want, time.Hour); !errors.Is(err, idempotency.ErrLockLost) {
			t.Errorf("second Complete = %v; want ErrLockLost", err)
		}
		// Retention is the record's TTL; the key carries a hash tag.
		ttl := b.client(t).PTTL(ctx, b.Prefix+"{a}").Val()
		if ttl <= 59*time.Minute || ttl > time.Hour {
			t.Errorf("PTTL of a done record = %v; want about 1h", ttl)
		}

		// Release frees the key, only for its holder; done records stay.
		if _, ok, _ := s.Acquire(ctx, "b", "t1", "f", time.Minute); !ok {
			t.Fatal("Acquire(b) refused")
		}
		if err := s.Release(ctx, "b", "t9"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Acquire(ctx, "b", "t2", "f", time.Minute); ok {
			t.Fatal("a non-holder's Release freed the key")
		}
		if err := s.Release(ctx, "b", "t1"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Acquire(ctx, "b", "t2", "f", time.Minute); !ok {
			t.Fatal("Release did not free the key")
		}
		_ = s.Release(ctx, "a", "t1")
		if _, ok, _ := s.Acquire(ctx, "a", "t4", "f1", time.Minute); ok {
			t.Fatal("Release deleted a done record")
		}
		ttl = b.client(t).PTTL(ctx, b.Prefix+"{b}").Val()
		if ttl <= 0 || ttl > time.Minute {
			t.Errorf("PTTL of an in-flight record = %v; want at most the lock TTL", ttl)
		}

		if b.Mini == nil {
			return
		}
		// The lock expires: the next claim wins and the old holder's
		// completion is refused.
		b.Mini.FastForward(time.Minute)
		if _, ok, _ := s.Acquire(ctx, "b", "t3", "f", time.Minute); !ok {
			t.Fatal("expired lock still held")
		}
		if err := s.Complete(ctx, "b", "t2", idempotency.Record{Fingerprint: "f", Status: 200}, time.Hour); !errors.Is(err, idempotency.ErrLockLost) {
			t.Errorf("Complete after the lock expired = %v; want ErrLockLost", err)
		}
		b.Mini.FastForward(time.Hour)
		if _, ok, _ := s.Acquire(ctx, "a", "t5", "f1", time.Minute); !ok {
			t.Error("record outlived its retention")
		}
	})
}

// TestReplicasRace runs two replicas (two middleware instances, each with
// its own Redis client) and fires many requests with one key at both at
// once: the handler must run exactly once, every other request gets 409,
// and afterwards both replicas replay the stored response.
func TestReplicasRace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		const perReplica = 8
		var calls atomic.Int64
		var answered atomic.Int64
		othersDone := make(chan struct{})
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			// Stay in flight until every other request has been answered,
			// so that all of them race against a live claim. The timeout only
			// ends a test that is already failing (a second execution).
			select {
			case <-othersDone:
			case <-time.After(10 * time.Second):
			}
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte("paid"))
		})
		var replicas [2]http.Handler
		for i := range replicas {
			replicas[i] = idempotency.Middleware(idempotency.Config{
				Store: redisstore.New(b.client(t), redisstore.WithPrefix(b.Prefix)),
				Key:   func(*http.Request) (string, error) { return "alice", nil },
			})(handler)
		}
		req := func() *http.Request {
			r := httptest.NewRequest("POST", "/pay", strings.NewReader("100 EUR"))
			r.Header.Set(idempotency.Header, "race-key")
			return r
		}
		codes := make(chan int, 2*perReplica)
		startGun := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 2 * perReplica {
			wg.Go(func() {
				<-startGun
				w := httptest.NewRecorder()
				replicas[i%2].ServeHTTP(w, req())
				codes <- w.Code
				if w.Code != http.StatusCreated && answered.Add(1) == 2*perReplica-1 {
					close(othersDone)
				}
			})
		}
		close(startGun)
		wg.Wait()
		close(codes)
		count := map[int]int{}
		for c := range codes {
			count[c]++
		}
		if calls.Load() != 1 || count[201] != 1 || count[409] != 2*perReplica-1 {
			t.Fatalf("handler ran %d times; statuses %v; want 1 run, one 201 and %d 409s", calls.Load(), count, 2*perReplica-1)
		}
		for i, h := range replicas {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req())
			if w.Code != 201 || w.Body.String() != "paid" || w.Header().Get(idempotency.ReplayedHeader) != "true" {
				t.Errorf("replica %d after the race: %d %q replayed=%q; want 201 \"paid\" true", i, w.Code, w.Body, w.Header().Get(idempotency.ReplayedHeader))
			}
		}
	})
}

// TestRedisDown cuts the network between a replica and Redis: errors
// surface (the middleware then fails closed), on every deployment.
func TestRedisDown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c, cut := b.CutClient(t, func(o *redis.UniversalOptions) {
			o.MaxRetries, o.DialerRetries, o.DialerRetryTimeout = -1, 1, time.Millisecond
		})
		s := redisstore.New(c, redisstore.WithPrefix(b.Prefix))
		if _, ok, err := s.Acquire(context.Background(), "before", "t", "f", time.Minute); !ok || err != nil {
			t.Fatalf("Acquire before the cut = %v, %v; want true, nil", ok, err)
		}
		cut()
		if _, _, err := s.Acquire(context.Background(), "k", "t", "f", time.Minute); err == nil {
			t.Fatal("Acquire with Redis down = nil error")
		}
		h := idempotency.Middleware(idempotency.Config{Store: s, Key: func(*http.Request) (string, error) { return "a", nil },
			Logger: slog.New(slog.DiscardHandler)})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("handler ran with Redis down") }))
		r := httptest.NewRequest("POST", "/", strings.NewReader("x"))
		r.Header.Set(idempotency.Header, "k")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("status with Redis down = %d; want 503", w.Code)
		}
	})
}

// Every record is one key whose hash tag is the idempotency key, so the
// scripts (each with one key) run on Redis Cluster, a companion key of a
// record would share its slot, and the records of different keys spread
// across every master.
func TestClusterSlots(t *testing.T) {
	b := redistest.Cluster(t)
	ctx := context.Background()
	s := redisstore.New(b.Client, redisstore.WithPrefix(b.Prefix))
	for i := range 100 {
		k := fmt.Sprintf("key-%d", i)
		if _, ok, err := s.Acquire(ctx, k, "t", "f", time.Minute); !ok || err != nil {
			t.Fatalf("Acquire(%s) = %v, %v; want true, nil", k, ok, err)
		}
		if i%2 == 0 {
			if err := s.Complete(ctx, k, "t", idempotency.Record{Fingerprint: "f", Status: 200}, time.Minute); err != nil {
				t.Fatalf("Complete(%s) = %v", k, err)
			}
		}
	}
	if err := s.Release(ctx, "key-1", "t"); err != nil {
		t.Fatalf("Release = %v", err)
	}
	redistest.AssertOneSlot(t, b.Client, b.Prefix+"{key-0}", b.Prefix+"{key-0}:companion")
	redistest.AssertSpread(t, b.Client, b.Prefix+"*")
}

func TestNilOptions(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer func() { _ = c.Close() }()
	s := redisstore.New(c, nil, redisstore.WithPrefix(""))
	if _, ok, err := s.Acquire(context.Background(), "k", "t", "f", time.Minute); !ok || err != nil {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
	if !mr.Exists(redisstore.DefaultPrefix + "{k}") {
		t.Errorf("keys = %v; want %s{k} (the default prefix)", mr.Keys(), redisstore.DefaultPrefix)
	}
}

// TestPrefixWithBracePanics: a brace in the prefix would become every
// key's hash tag and put all records on one Redis Cluster slot.
func TestPrefixWithBracePanics(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialed
	defer func() { _ = c.Close() }()
	redistest.AssertBracePrefixPanics(t, "redisstore", func(prefix string) { redisstore.New(c, redisstore.WithPrefix(prefix)) })
}
