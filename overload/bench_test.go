package overload_test

import (
	"context"
	"testing"

	"github.com/chassis-go/chassis/overload"
)

// BenchmarkAcquireDone measures the admit path: Acquire and Done with
// nobody queued, uncontended and from all Ps.
func BenchmarkAcquireDone(b *testing.B) {
	ctx := context.Background()
	for _, algo := range []overload.Algorithm{overload.Gradient(), overload.Fixed(1 << 20)} {
		b.Run(algo.String(), func(b *testing.B) {
			l := overload.NewLimiter(overload.Config{Algorithm: algo, MaxLimit: 1 << 20, InitialLimit: 1 << 20})
			b.ReportAllocs()
			for b.Loop() {
				t, err := l.Acquire(ctx, overload.Default)
				if err != nil {
					b.Fatal(err)
				}
				t.Done(overload.Success)
			}
		})
		b.Run(algo.String()+"/parallel", func(b *testing.B) {
			l := overload.NewLimiter(overload.Config{Algorithm: algo, MaxLimit: 1 << 20, InitialLimit: 1 << 20})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					t, err := l.Acquire(ctx, overload.Default)
					if err != nil {
						b.Error(err)
						return
					}
					t.Done(overload.Success)
				}
			})
		})
	}
	b.Run("default config", func(b *testing.B) {
		// a window closes every 100 samples
		l := overload.NewLimiter(overload.Config{})
		b.ReportAllocs()
		for b.Loop() {
			t, err := l.Acquire(ctx, overload.Default)
			if err != nil {
				b.Fatal(err)
			}
			t.Done(overload.Success)
		}
	})
	b.Run("refused", func(b *testing.B) {
		l := overload.NewLimiter(overload.Config{Algorithm: overload.Fixed(1)})
		t, _ := l.Acquire(ctx, overload.Critical)
		defer t.Done(overload.Ignored)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.Acquire(ctx, overload.Default); err == nil {
				b.Fatal("admitted past the limit")
			}
		}
	})
}
