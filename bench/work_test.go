package bench

import (
	"context"
	"testing"

	"github.com/alitto/pond/v2"
	"github.com/sourcegraph/conc/pool"
	"golang.org/x/sync/errgroup"

	"github.com/chassis-go/chassis/work"
)

// workers is the concurrency bound of every work benchmark.
const workers = 8

func noop(context.Context) error { return nil }

// benchAll runs n no-op tasks, at most 8 at a time, and waits for them:
//
//   - chassis: work.All(ctx, tasks, work.Workers(8)); tasks is built once.
//   - errgroup: errgroup.WithContext + SetLimit(8), a Go per task.
//   - conc: pool.New().WithContext(ctx).WithMaxGoroutines(8), a Go per task.
//   - pond: a TaskGroup (NewGroupContext) of a pond.Pool of 8, built once
//     and reused, as pond pools are meant to be.
//
// Every implementation passes ctx to the tasks (errgroup's and conc's are
// cancelled on the first error, as with chassis's FailFast; chassis collects
// every error instead, which costs nothing when there is none).
func benchAll(b *testing.B, n int) {
	ctx := context.Background()
	b.Run("chassis", func(b *testing.B) {
		tasks := make([]func(context.Context) error, n)
		for i := range tasks {
			tasks[i] = noop
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := work.All(ctx, tasks, work.Workers(workers)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("errgroup", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			g, gctx := errgroup.WithContext(ctx)
			g.SetLimit(workers)
			for range n {
				g.Go(func() error { return noop(gctx) })
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("conc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := pool.New().WithContext(ctx).WithMaxGoroutines(workers)
			for range n {
				p.Go(noop)
			}
			if err := p.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pond", func(b *testing.B) {
		p := pond.NewPool(workers)
		defer p.StopAndWait()
		b.ReportAllocs()
		for b.Loop() {
			g := p.NewGroupContext(ctx)
			for range n {
				g.SubmitErr(func() error { return noop(ctx) })
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAll100 is 100 no-op tasks on 8 workers.
func BenchmarkAll100(b *testing.B) { benchAll(b, 100) }

// BenchmarkAll10k is 10,000 no-op tasks on 8 workers.
func BenchmarkAll10k(b *testing.B) { benchAll(b, 10_000) }

// double is the tiny task of the Map benchmarks.
func double(_ context.Context, x int) (int, error) { return 2*x + 1, nil }

// benchMap computes double over n ints, at most 8 at a time, and returns the
// results in input order in a new slice:
//
//   - chassis: work.Map(ctx, items, double, work.Workers(8)).
//   - errgroup, conc: as in benchAll, each task writing its result into a
//     slice allocated per op.
//   - pond: a ResultPool of 8 (built once) and a ResultTaskGroup, whose Wait
//     returns the results in submission order.
func benchMap(b *testing.B, n int) {
	ctx := context.Background()
	items := make([]int, n)
	for i := range items {
		items[i] = i
	}
	check := func(b *testing.B, out []int) {
		if len(out) != n || out[n-1] != 2*(n-1)+1 {
			b.Fatalf("wrong results: len %d", len(out))
		}
	}
	b.Run("chassis", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, err := work.Map(ctx, items, double, work.Workers(workers))
			if err != nil {
				b.Fatal(err)
			}
			check(b, out)
		}
	})
	b.Run("errgroup", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out := make([]int, n)
			g, gctx := errgroup.WithContext(ctx)
			g.SetLimit(workers)
			for i, x := range items {
				g.Go(func() (err error) {
					out[i], err = double(gctx, x)
					return err
				})
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
			check(b, out)
		}
	})
	b.Run("conc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out := make([]int, n)
			p := pool.New().WithContext(ctx).WithMaxGoroutines(workers)
			for i, x := range items {
				p.Go(func(ctx context.Context) (err error) {
					out[i], err = double(ctx, x)
					return err
				})
			}
			if err := p.Wait(); err != nil {
				b.Fatal(err)
			}
			check(b, out)
		}
	})
	b.Run("pond", func(b *testing.B) {
		p := pond.NewResultPool[int](workers)
		defer p.StopAndWait()
		b.ReportAllocs()
		for b.Loop() {
			g := p.NewGroupContext(ctx)
			for _, x := range items {
				g.SubmitErr(func() (int, error) { return double(ctx, x) })
			}
			out, err := g.Wait()
			if err != nil {
				b.Fatal(err)
			}
			check(b, out)
		}
	})
}

// BenchmarkMap100 is Map over 100 ints on 8 workers.
func BenchmarkMap100(b *testing.B) { benchMap(b, 100) }

// BenchmarkMap10k is Map over 10,000 ints on 8 workers.
func BenchmarkMap10k(b *testing.B) { benchMap(b, 10_000) }
