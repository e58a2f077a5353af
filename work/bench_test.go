package work_test

import (
	"context"
	"fmt"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/sync/errgroup"

	"github.com/chassis-go/chassis/work"
)

func noopItem(_ context.Context, i int) (int, error) { return i, nil }

func noopTask(context.Context) error { return nil }

func tasks(n int) []func(context.Context) error {
	ts := make([]func(context.Context) error, n)
	for i := range ts {
		ts[i] = noopTask
	}
	return ts
}

// BenchmarkBatch compares Map and All with errgroup on the same work: n
// no-op items with 8 workers (errgroup.SetLimit(8)).
func BenchmarkBatch(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{100, 10_000} {
		items := seq(n)
		ts := tasks(n)
		b.Run(fmt.Sprintf("Map/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := work.Map(ctx, items, noopItem, work.Workers(8)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("MapFailFast/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := work.Map(ctx, items, noopItem, work.Workers(8), work.FailFast()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("All/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := work.All(ctx, ts, work.Workers(8)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("errgroup/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var g errgroup.Group
				g.SetLimit(8)
				results := make([]int, n)
				for i := range items {
					g.Go(func() error {
						r, err := noopItem(ctx, items[i])
						results[i] = r
						return err
					})
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("errgroupWithContext/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				g, gctx := errgroup.WithContext(ctx)
				g.SetLimit(8)
				results := make([]int, n)
				for i := range items {
					g.Go(func() error {
						r, err := noopItem(gctx, items[i])
						results[i] = r
						return err
					})
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStream runs 10,000 items through Stream with 8 workers.
func BenchmarkStream(b *testing.B) {
	const n = 10_000
	for _, ordered := range []bool{false, true} {
		b.Run(fmt.Sprintf("ordered=%v", ordered), func(b *testing.B) {
			opts := []work.Option{work.Workers(8)}
			if ordered {
				opts = append(opts, work.Ordered())
			}
			b.ReportAllocs()
			for b.Loop() {
				in := make(chan int, 64)
				go func() {
					for i := range n {
						in <- i
					}
					close(in)
				}()
				got := 0
				for range work.Stream(context.Background(), in, noopItem, opts...) {
					got++
				}
				if got != n {
					b.Fatalf("got %d results; want %d", got, n)
				}
			}
		})
	}
}

// BenchmarkMapTelemetry shows the cost of telemetry on Map(100 items, 8
// workers): off (the default global no-op providers, or an explicit no-op
// tracer provider) against a recording SDK tracer and an SDK meter.
func BenchmarkMapTelemetry(b *testing.B) {
	items := seq(100)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discard{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	cases := []struct {
		name string
		opts []work.Option
	}{
		{"off", nil},
		{"noop-tracer", []work.Option{work.WithTracerProvider(noop.NewTracerProvider())}},
		{"sdk-tracer", []work.Option{work.WithTracerProvider(tp)}},
		{"sdk-meter", []work.Option{work.WithMeterProvider(mp)}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			opts := append([]work.Option{work.Workers(8)}, tc.opts...)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := work.Map(context.Background(), items, noopItem, opts...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// discard is a span processor that drops ended spans, so the benchmark
// measures span creation rather than a growing recorder.
type discard struct{}

func (discard) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discard) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discard) Shutdown(context.Context) error                  { return nil }
func (discard) ForceFlush(context.Context) error                { return nil }

func BenchmarkRace(b *testing.B) {
	ctx := context.Background()
	fast := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := work.Race(ctx, fast, fast, fast, fast); err != nil {
			b.Fatal(err)
		}
	}
}
