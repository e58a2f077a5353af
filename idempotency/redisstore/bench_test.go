package redisstore_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/idempotency"
	"github.com/chassis-go/chassis/idempotency/redisstore"
	"github.com/chassis-go/chassis/internal/redistest"
)

// benchClient is the Redis at CHASSIS_REDIS_ADDR, else a miniredis (whose
// numbers say nothing about Redis; they only keep the benchmark running).
func benchClient(b *testing.B) *redis.Client {
	addr := os.Getenv("CHASSIS_REDIS_ADDR")
	if addr == "" {
		addr = miniredis.RunT(b).Addr()
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// BenchmarkFirstRequest is the Store's share of a request with a new key:
// Acquire, then Complete (two round trips).
func BenchmarkFirstRequest(b *testing.B) {
	prefix := redistest.NewPrefix()
	s := redisstore.New(benchClient(b), redisstore.WithPrefix(prefix))
	ctx := context.Background()
	rec := idempotency.Record{Fingerprint: "f", Status: 201, Body: []byte(`{"id":"p_1","status":"paid"}`)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		k := strconv.Itoa(i)
		if _, ok, err := s.Acquire(ctx, k, "t", "f", time.Minute); !ok || err != nil {
			b.Fatal(ok, err)
		}
		if err := s.Complete(ctx, k, "t", rec, 10*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplay is the Store's share of a retry: one Acquire that returns
// the stored record.
func BenchmarkReplay(b *testing.B) {
	s := redisstore.New(benchClient(b), redisstore.WithPrefix(redistest.NewPrefix()))
	ctx := context.Background()
	_, _, _ = s.Acquire(ctx, "k", "t", "f", time.Minute)
	_ = s.Complete(ctx, "k", "t", idempotency.Record{Fingerprint: "f", Status: 201, Body: []byte(`{"id":"p_1"}`)}, time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if rec, ok, err := s.Acquire(ctx, "k", "t2", "f", time.Minute); ok || err != nil || !rec.Done {
			b.Fatal(ok, err)
		}
	}
}
