package health_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chassis-go/chassis/health"
)

func benchChecker(opts ...health.Option) *health.Checker {
	c := health.New(opts...)
	c.Add("postgres", ok)
	c.Add("redis", ok)
	c.Add("search", ok, health.NonCritical())
	return c
}

func BenchmarkRun(b *testing.B) {
	c := benchChecker()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if c.Run(ctx).Status != health.StatusUp {
			b.Fatal("not up")
		}
	}
}

func BenchmarkRun_cached(b *testing.B) {
	c := benchChecker(health.CacheTTL(time.Hour))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c.Run(ctx)
	}
}

func BenchmarkReadyHandler_cached(b *testing.B) {
	h := benchChecker(health.CacheTTL(time.Hour)).ReadyHandler()
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
