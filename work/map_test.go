package work_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/work"
)

var errBoom = errors.New("boom")

// maxTracker records the highest number of concurrently running items.
type maxTracker struct{ cur, max atomic.Int64 }

func (m *maxTracker) enter() {
	c := m.cur.Add(1)
	for {
		old := m.max.Load()
		if c <= old || m.max.CompareAndSwap(old, c) {
			return
		}
	}
}

func (m *maxTracker) exit() { m.cur.Add(-1) }

// TestMapProperties checks, for random sizes, worker counts and failure
// sets, that results and error indices match the input and that the worker
// bound holds.
func TestMapProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		n := rng.IntN(200)
		workers := 1 + rng.IntN(16)
		failRate := rng.Float64() * 0.5
		fail := make(map[int]bool)
		for i := range n {
			if rng.Float64() < failRate {
				fail[i] = true
			}
		}
		items := make([]int, n)
		for i := range items {
			items[i] = i
		}
		var mt maxTracker
		got, err := work.Map(t.Context(), items, func(_ context.Context, i int) (string, error) {
			mt.enter()
			defer mt.exit()
			if fail[i] {
				return "partial", fmt.Errorf("item %d: %w", i, errBoom)
			}
			return fmt.Sprint(i * i), nil
		}, work.Workers(workers))

		name := fmt.Sprintf("round %d: Map(n=%d, workers=%d)", round, n, workers)
		if len(got) != n {
			t.Fatalf("%s len = %d; want %d", name, len(got), n)
		}
		for i, v := range got {
			want := fmt.Sprint(i * i)
			if fail[i] {
				want = ""
			}
			if v != want {
				t.Fatalf("%s results[%d] = %q; want %q", name, i, v, want)
			}
		}
		if m := mt.max.Load(); m > int64(workers) {
			t.Fatalf("%s max concurrency = %d; want <= %d", name, m, workers)
		}
		if len(fail) == 0 {
			if err != nil {
				t.Fatalf("%s err = %v; want nil", name, err)
			}
			continue
		}
		var errs *work.Errors
		if !errors.As(err, &errs) {
			t.Fatalf("%s err = %T %v; want *work.Errors", name, err, err)
		}
		var idx []int
		for _, e := range errs.Errs {
			idx = append(idx, e.Index)
			if want := fmt.Sprintf("item %d: boom", e.Index); e.Err.Error() != want {
				t.Fatalf("%s Errs[index %d].Err = %v; want %s", name, e.Index, e.Err, want)
			}
		}
		var want []int
		for i := range n {
			if fail[i] {
				want = append(want, i)
			}
		}
		if !slices.Equal(idx, want) {
			t.Fatalf("%s error indices = %v; want %v", name, idx, want)
		}
		if !errors.Is(err, errBoom) {
			t.Fatalf("%s errors.Is(err, errBoom) = false; want true", name)
		}
	}
}

// TestMapUsesAllWorkers proves the pool really runs n items at once: each of
// the n items waits until all n have started.
func TestMapUsesAllWorkers(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 4, 8} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var started atomic.Int64
			all := make(chan struct{})
			items := make([]int, n)
			_, err := work.Map(ctx, items, func(ctx context.Context, _ int) (int, error) {
				if started.Add(1) == int64(n) {
					close(all)
				}
				select {
				case <-all:
					return 0, nil
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			}, work.Workers(n))
			if err != nil {
				t.Errorf("Map(%d items, Workers(%d)) = %v; want nil (not all workers ran at once)", n, n, err)
			}
		})
	}
}

func TestMapEmpty(t *testing.T) {
	t.Parallel()
	got, err := work.Map(t.Context(), nil, func(context.Context, int) (int, error) {
		t.Error("fn called for empty input")
		return 0, nil
	})
	if got == nil || len(got) != 0 || err != nil {
		t.Errorf("Map(nil) = %v, %v; want [], nil", got, err)
	}
	if err := work.All(t.Context(), nil); err != nil {
		t.Errorf("All(nil) = %v; want nil", err)
	}
}

func TestMapFailFast(t *testing.T) {
	t.Parallel()
	t.Run("cancels running items", func(t *testing.T) {
		t.Parallel()
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		const n = 4
		var started atomic.Int64
		all := make(chan struct{})
		var causes [n]error
		_, err := work.Map(t.Context(), []int{0, 1, 2, 3}, func(ctx context.Context, i int) (int, error) {
			if started.Add(1) == n {
				close(all)
			}
			<-all // every item is running before item 0 fails
			if i == 0 {
				return 0, errBoom
			}
			<-ctx.Done()
			causes[i] = context.Cause(ctx)
			return 0, ctx.Err()
		}, work.Workers(n), work.FailFast())

		var ie *work.ItemError
		if !errors.As(err, &ie) || ie.Index != 0 || !errors.Is(err, errBoom) {
			t.Fatalf("Map(FailFast) = %v; want *ItemError{Index: 0, Err: boom}", err)
		}
		var errs *work.Errors
		if errors.As(err, &errs) {
			t.Errorf("Map(FailFast) = %T; want a single *ItemError, not *Errors", err)
		}
		for i := 1; i < n; i++ {
			if !errors.Is(causes[i], errBoom) {
				t.Errorf("item %d context cause = %v; want the first failure", i, causes[i])
			}
		}
	})
	t.Run("never starts the rest", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int64
		items := make([]int, 100)
		got, err := work.Map(t.Context(), items, func(_ context.Context, _ int) (int, error) {
			if calls.Add(1) == 3 {
				return 0, errBoom
			}
			return 1, nil
		}, work.Workers(1), work.FailFast())
		if c := calls.Load(); c != 3 {
			t.Errorf("Map(FailFast, Workers(1)) called fn %d times; want 3", c)
		}
		var ie *work.ItemError
		if !errors.As(err, &ie) || ie.Index != 2 {
			t.Errorf("Map(FailFast) = %v; want item 2's failure", err)
		}
		if got[0] != 1 || got[1] != 1 || got[2] != 0 || got[3] != 0 {
			t.Errorf("Map(FailFast) results[:4] = %v; want [1 1 0 0]", got[:4])
		}
	})
	t.Run("all succeed", func(t *testing.T) {
		t.Parallel()
		err := work.All(t.Context(), []func(context.Context) error{
			func(context.Context) error { return nil },
			func(context.Context) error { return nil },
		}, work.FailFast())
		if err != nil {
			t.Errorf("All(FailFast, ok tasks) = %v; want nil", err)
		}
	})
}

func TestMapCancellation(t *testing.T) {
	t.Parallel()
	t.Run("before start", func(t *testing.T) {
		t.Parallel()
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		got, err := work.Map(ctx, []int{1, 2, 3}, func(context.Context, int) (int, error) {
			t.Error("fn called with a done context")
			return 0, nil
		})
		if got != nil || !errors.Is(err, context.Canceled) {
			t.Errorf("Map(done ctx) = %v, %v; want nil, context.Canceled", got, err)
		}
		if err := work.All(ctx, []func(context.Context) error{func(context.Context) error {
			t.Error("task run with a done context")
			return nil
		}}); err != context.Canceled {
			t.Errorf("All(done ctx) = %v; want context.Canceled", err)
		}
	})

	for _, failFast := range []bool{false, true} {
		t.Run(fmt.Sprintf("waiting for a slot/failfast=%v", failFast), func(t *testing.T) {
			t.Parallel()
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var calls atomic.Int64
			opts := []work.Option{work.Workers(1)}
			if failFast {
				opts = append(opts, work.FailFast())
			}
			// Item 0 holds the only worker; the other 9 wait for the slot
			// when the context is cancelled.
			_, err := work.Map(ctx, make([]int, 10), func(ctx context.Context, _ int) (int, error) {
				if calls.Add(1) == 1 {
					cancel()
				}
				<-ctx.Done()
				return 0, ctx.Err()
			}, opts...)
			if c := calls.Load(); c != 1 {
				t.Errorf("fn called %d times; want 1 (waiting items must not start)", c)
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Map() = %v; want context.Canceled", err)
			}
			if failFast {
				return
			}
			var errs *work.Errors
			if !errors.As(err, &errs) || len(errs.Errs) != 10 {
				t.Fatalf("Map() = %v; want *Errors with 10 items", err)
			}
			for i, e := range errs.Errs {
				if e.Index != i || !errors.Is(e.Err, context.Canceled) {
					t.Errorf("Errs[%d] = %v (index %d); want index %d, context.Canceled", i, e, e.Index, i)
				}
			}
		})
	}

	t.Run("mid item", func(t *testing.T) {
		t.Parallel()
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		const n = 3
		var started atomic.Int64
		var returned atomic.Int64
		err := work.All(ctx, []func(context.Context) error{
			func(ctx context.Context) error {
				if started.Add(1) == n {
					cancel()
				}
				<-ctx.Done()
				returned.Add(1)
				return ctx.Err()
			},
			func(ctx context.Context) error {
				if started.Add(1) == n {
					cancel()
				}
				<-ctx.Done()
				returned.Add(1)
				return nil // ignores the cancellation and succeeds
			},
			func(ctx context.Context) error {
				if started.Add(1) == n {
					cancel()
				}
				<-ctx.Done()
				returned.Add(1)
				return ctx.Err()
			},
		}, work.Workers(n))
		if r := returned.Load(); r != n {
			t.Errorf("All returned with %d of %d tasks finished; want all", r, n)
		}
		var errs *work.Errors
		if !errors.As(err, &errs) || len(errs.Errs) != 2 || errs.Errs[0].Index != 0 || errs.Errs[1].Index != 2 {
			t.Fatalf("All() = %v; want *Errors for items 0 and 2", err)
		}
	})
}

func TestMapPanic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		value    any
		isTarget error
	}{
		{"string", "kaboom", nil},
		{"error", errBoom, errBoom},
		{"nil", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := work.Map(t.Context(), []int{0, 1, 2}, func(_ context.Context, i int) (int, error) {
				if i == 1 {
					panic(tc.value)
				}
				return i + 10, nil
			}, work.Workers(2))
			var pe *work.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("Map(panicking fn) = %v; want a *PanicError", err)
			}
			var errs *work.Errors
			if !errors.As(err, &errs) || len(errs.Errs) != 1 || errs.Errs[0].Index != 1 {
				t.Fatalf("Map(panicking fn) = %v; want one error at index 1", err)
			}
			if tc.value != nil && pe.Value != tc.value {
				t.Errorf("PanicError.Value = %v; want %v", pe.Value, tc.value)
			}
			if !strings.Contains(string(pe.Stack), "map_test.go") {
				t.Errorf("PanicError.Stack does not show the panicking function:\n%s", pe.Stack)
			}
			if tc.isTarget != nil && !errors.Is(err, tc.isTarget) {
				t.Errorf("errors.Is(err, %v) = false; want true", tc.isTarget)
			}
			if got[0] != 10 || got[2] != 12 {
				t.Errorf("Map results = %v; want [10 0 12]", got)
			}
		})
	}
	t.Run("nil task", func(t *testing.T) {
		t.Parallel()
		err := work.All(t.Context(), []func(context.Context) error{nil})
		var pe *work.PanicError
		if !errors.As(err, &pe) {
			t.Errorf("All([nil]) = %v; want a *PanicError", err)
		}
	})
}

func TestNilFnPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"Map", func() { _, _ = work.Map[int, int](t.Context(), nil, nil) }, "work.Map: fn is nil"},
		{"Stream", func() { work.Stream[int, int](t.Context(), nil, nil) }, "work.Stream: fn is nil"},
		{"Workers", func() { work.Workers(0) }, "work.Workers: n is 0"},
		{"Window", func() { work.Window(-1) }, "work.Window: n is -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, tc.want) {
					t.Errorf("%s panic = %v; want prefix %q", tc.name, r, tc.want)
				}
			}()
			tc.f()
		})
	}
}
