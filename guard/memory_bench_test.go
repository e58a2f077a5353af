package guard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/chassis-go/chassis/guard"
)

// BenchmarkMemoryAllowHotKey is Allow on one existing key, including the key
// lookup. Compare with BenchmarkXTimeRateAllow, a single bucket with no
// lookup at all.
func BenchmarkMemoryAllowHotKey(b *testing.B) {
	m := guard.NewMemoryLimiter(guard.PerSecond(1e9))
	ctx := context.Background()
	key := "203.0.113.195"
	b.ReportAllocs()
	for b.Loop() {
		m.Allow(ctx, key)
	}
}

// BenchmarkXTimeRateAllow is golang.org/x/time/rate's Limiter.Allow on one
// bucket, for reference.
func BenchmarkXTimeRateAllow(b *testing.B) {
	l := rate.NewLimiter(1e9, 1e9)
	b.ReportAllocs()
	for b.Loop() {
		l.Allow()
	}
}

// BenchmarkMemoryAllowNewKeysAtCapacity is Allow on a key the limiter has not
// seen, with the table full of keys, so that each call evicts one. Its cost
// should not grow with MaxKeys beyond cache effects.
func BenchmarkMemoryAllowNewKeysAtCapacity(b *testing.B) {
	for _, maxKeys := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("MaxKeys=%d", maxKeys), func(b *testing.B) {
			// Keys replenish 1µs after use, so full shards always have
			// evictable entries, as under steady traffic of many clients.
			m := guard.NewMemoryLimiter(guard.Limit{Rate: 1, Per: time.Microsecond}, guard.MaxKeys(maxKeys))
			ctx := context.Background()
			keys := make([]string, 2*maxKeys+1<<16)
			for i := range keys {
				keys[i] = "client-" + strconv.Itoa(i)
			}
			for _, k := range keys[:maxKeys] {
				m.Allow(ctx, k)
			}
			i := maxKeys
			b.ReportAllocs()
			for b.Loop() {
				m.Allow(ctx, keys[i])
				if i++; i == len(keys) {
					i = 0
				}
			}
			if m.Len() > maxKeys {
				b.Fatalf("Len() = %d; want <= %d", m.Len(), maxKeys)
			}
		})
	}
}

// BenchmarkMemoryAllowFlood is Allow on new keys when the table is full of
// active keys and the overflow allowance is spent: the cheapest denial.
func BenchmarkMemoryAllowFlood(b *testing.B) {
	m := guard.NewMemoryLimiter(guard.PerMinute(1), guard.MaxKeys(1000))
	ctx := context.Background()
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = "flood-" + strconv.Itoa(i)
	}
	for _, k := range keys {
		m.Allow(ctx, k)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		m.Allow(ctx, keys[i&(len(keys)-1)])
		i++
	}
}

// BenchmarkMemoryAllowParallel is Allow from all cores on distinct existing
// keys: shards keep the goroutines off each other's locks.
func BenchmarkMemoryAllowParallel(b *testing.B) {
	m := guard.NewMemoryLimiter(guard.PerSecond(1e9))
	ctx := context.Background()
	const perG = 1024
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		g := next.Add(1)
		keys := make([]string, perG)
		for i := range keys {
			keys[i] = fmt.Sprintf("g%d-%d", g, i)
			m.Allow(ctx, keys[i])
		}
		i := 0
		for pb.Next() {
			m.Allow(ctx, keys[i&(perG-1)])
			i++
		}
	})
}

// BenchmarkXTimeRateAllowParallel is x/time/rate on one shared bucket from
// all cores, for reference.
func BenchmarkXTimeRateAllowParallel(b *testing.B) {
	l := rate.NewLimiter(1e9, 1e9)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow()
		}
	})
}

// BenchmarkMemoryBytesPerKey reports the heap used per tracked key beyond the
// key string (16-byte keys; the goal is <= 100 B/key).
func BenchmarkMemoryBytesPerKey(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			var perKey float64
			for b.Loop() {
				perKey = memBytesPerKey(n)
			}
			b.ReportMetric(perKey, "B/key")
		})
	}
}

// BenchmarkRateLimit is the whole middleware on an allowed request: key
// function, limiter and headers.
func BenchmarkRateLimit(b *testing.B) {
	h := guard.RateLimit(guard.RateLimitConfig{
		Limiter: guard.NewMemoryLimiter(guard.PerSecond(1e9)),
		Key:     guard.RemoteIP(),
	})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &rlDiscardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

type rlDiscardWriter struct{ h http.Header }

func (w *rlDiscardWriter) Header() http.Header         { return w.h }
func (w *rlDiscardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *rlDiscardWriter) WriteHeader(int)             {}
