package work_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/work"
)

// feed returns a channel that yields items then closes.
func feed[T any](items ...T) <-chan T {
	ch := make(chan T, len(items))
	for _, it := range items {
		ch <- it
	}
	close(ch)
	return ch
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestStreamDeliversEveryItem(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 100 {
		n := rng.IntN(300)
		workers := 1 + rng.IntN(8)
		ordered := rng.IntN(2) == 0
		window := 1 + rng.IntN(12)
		opts := []work.Option{work.Workers(workers)}
		if ordered {
			opts = append(opts, work.Ordered(), work.Window(window))
		}
		var mt maxTracker
		out := work.Stream(t.Context(), feed(seq(n)...), func(_ context.Context, i int) (int, error) {
			mt.enter()
			defer mt.exit()
			if i%7 == 3 {
				return 0, errBoom
			}
			return i * 2, nil
		}, opts...)
		var got []int
		for r := range out {
			if r.Index%7 == 3 {
				if !errors.Is(r.Err, errBoom) {
					t.Fatalf("round %d: Result %d Err = %v; want boom", round, r.Index, r.Err)
				}
			} else if r.Err != nil || r.Value != r.Index*2 {
				t.Fatalf("round %d: Result %d = %v, %v; want %d, nil", round, r.Index, r.Value, r.Err, r.Index*2)
			}
			got = append(got, r.Index)
		}
		name := fmt.Sprintf("round %d: Stream(n=%d, workers=%d, ordered=%v, window=%d)", round, n, workers, ordered, window)
		if ordered && !slices.IsSorted(got) {
			t.Fatalf("%s indices = %v; want input order", name, got)
		}
		slices.Sort(got)
		if !slices.Equal(got, seq(n)) && !(n == 0 && len(got) == 0) {
			t.Fatalf("%s indices = %v; want each of 0..%d once", name, got, n-1)
		}
		limit := int64(workers)
		if ordered {
			limit = int64(min(workers, window))
		}
		if m := mt.max.Load(); m > limit {
			t.Fatalf("%s max concurrency = %d; want <= %d", name, m, limit)
		}
	}
}

// TestStreamOrderedReorders makes items complete in reverse order and checks
// that Ordered still emits them in input order.
func TestStreamOrderedReorders(t *testing.T) {
	t.Parallel()
	const n = 4
	var finished [n]chan struct{}
	for i := range finished {
		finished[i] = make(chan struct{})
	}
	var order []int
	completions := make(chan int, n)
	out := work.Stream(t.Context(), feed(seq(n)...), func(ctx context.Context, i int) (int, error) {
		if i < n-1 {
			select {
			case <-finished[i+1]: // wait for the next item to complete
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		completions <- i
		close(finished[i])
		return i, nil
	}, work.Workers(n), work.Ordered())
	for r := range out {
		order = append(order, r.Index)
	}
	close(completions)
	var done []int
	for i := range completions {
		done = append(done, i)
	}
	if want := []int{3, 2, 1, 0}; !slices.Equal(done, want) {
		t.Fatalf("completion order = %v; want %v (test setup)", done, want)
	}
	if want := []int{0, 1, 2, 3}; !slices.Equal(order, want) {
		t.Errorf("Stream(Ordered) order = %v; want %v", order, want)
	}
}

func TestStreamUnorderedIndicesFollowInput(t *testing.T) {
	t.Parallel()
	in := make(chan string)
	go func() {
		defer close(in)
		for _, s := range []string{"a", "b", "c", "d", "e"} {
			in <- s
		}
	}()
	got := map[int]string{}
	for r := range work.Stream(t.Context(), in, func(_ context.Context, s string) (string, error) {
		return s + s, nil
	}, work.Workers(3)) {
		got[r.Index] = r.Value
	}
	want := map[int]string{0: "aa", 1: "bb", 2: "cc", 3: "dd", 4: "ee"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Stream results = %v; want %v", got, want)
	}
}

func TestStreamPanic(t *testing.T) {
	t.Parallel()
	for _, ordered := range []bool{false, true} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			t.Parallel()
			opts := []work.Option{work.Workers(2)}
			if ordered {
				opts = append(opts, work.Ordered())
			}
			var panics int
			for r := range work.Stream(t.Context(), feed(seq(5)...), func(_ context.Context, i int) (int, error) {
				if i == 2 {
					panic("two")
				}
				return i, nil
			}, opts...) {
				var pe *work.PanicError
				if errors.As(r.Err, &pe) {
					panics++
					if r.Index != 2 || pe.Value != "two" || len(pe.Stack) == 0 {
						t.Errorf("Result = %+v; want index 2 with PanicError(two) and a stack", r)
					}
				}
			}
			if panics != 1 {
				t.Errorf("Stream delivered %d PanicErrors; want 1", panics)
			}
		})
	}
}

func TestStreamCancellation(t *testing.T) {
	t.Parallel()
	for _, ordered := range []bool{false, true} {
		opts := []work.Option{work.Workers(3)}
		if ordered {
			opts = append(opts, work.Ordered())
		}
		t.Run(fmt.Sprintf("done before start/ordered=%v", ordered), func(t *testing.T) {
			t.Parallel()
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			out := work.Stream(ctx, feed(1, 2, 3), func(context.Context, int) (int, error) {
				t.Error("fn called with a done context")
				return 0, nil
			}, opts...)
			if r, ok := <-out; ok {
				t.Errorf("Stream(done ctx) delivered %+v; want a closed channel", r)
			}
		})

		t.Run(fmt.Sprintf("blocked consumer/ordered=%v", ordered), func(t *testing.T) {
			t.Parallel()
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithCancel(t.Context())
			in := make(chan int) // never closed
			var calls atomic.Int64
			out := work.Stream(ctx, in, func(context.Context, int) (int, error) {
				calls.Add(1)
				return 0, nil
			}, opts...)
			// Fill the pipeline: the consumer reads nothing, so workers end up
			// blocked delivering and the producer blocked sending.
			sent := 0
		fill:
			for {
				select {
				case in <- sent:
					sent++
				default:
					if sent >= 3 {
						break fill
					}
				}
			}
			cancel()
			got := 0
			for range out { // closes once every worker has exited
				got++
			}
			if got > sent {
				t.Errorf("Stream delivered %d results for %d items", got, sent)
			}
		})

		t.Run(fmt.Sprintf("silent producer/ordered=%v", ordered), func(t *testing.T) {
			t.Parallel()
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithCancel(t.Context())
			in := make(chan int) // neither sent to nor closed
			out := work.Stream(ctx, in, func(context.Context, int) (int, error) {
				t.Error("fn called without input")
				return 0, nil
			}, opts...)
			cancel()
			if r, ok := <-out; ok {
				t.Errorf("Stream(silent producer) delivered %+v after cancel; want closed", r)
			}
		})

		t.Run(fmt.Sprintf("nil input/ordered=%v", ordered), func(t *testing.T) {
			t.Parallel()
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithCancel(t.Context())
			out := work.Stream(ctx, (<-chan int)(nil), func(context.Context, int) (int, error) { return 0, nil }, opts...)
			cancel()
			for range out {
				t.Error("Stream(nil input) delivered a result")
			}
		})

		t.Run(fmt.Sprintf("mid item/ordered=%v", ordered), func(t *testing.T) {
			t.Parallel()
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithCancel(t.Context())
			in := make(chan int) // the producer stays silent after 3 items
			go func() {
				for i := range 3 {
					in <- i
				}
			}()
			var started, sawCancel atomic.Int64
			out := work.Stream(ctx, in, func(ctx context.Context, _ int) (int, error) {
				if started.Add(1) == 3 {
					cancel()
				}
				<-ctx.Done()
				sawCancel.Add(1)
				return 0, ctx.Err()
			}, opts...)
			for r := range out {
				if !errors.Is(r.Err, context.Canceled) {
					t.Errorf("Result after cancel = %+v; want context.Canceled", r)
				}
			}
			if !ordered && sawCancel.Load() != 3 {
				t.Errorf("output closed with %d of 3 items returned; want all 3", sawCancel.Load())
			}
		})

		t.Run(fmt.Sprintf("consumer stops mid stream/ordered=%v", ordered), func(t *testing.T) {
			t.Parallel()
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithCancel(t.Context())
			in := make(chan int)
			go func() { // producer that honours ctx
				defer close(in)
				for i := 0; ; i++ {
					select {
					case in <- i:
					case <-ctx.Done():
						return
					}
				}
			}()
			out := work.Stream(ctx, in, func(_ context.Context, i int) (int, error) { return i, nil }, opts...)
			for r := range out {
				if r.Index == 50 {
					break
				}
			}
			cancel() // abandon the channel without draining it
		})
	}
}

// TestStreamOrderedWindowBoundsReadAhead checks the window invariant: item
// i is read only after item i-window was delivered, so fn(i) never starts
// before fn(i-window) has returned. The head item is held until the rest of
// the window has completed, so that idle workers are tempted to read ahead.
func TestStreamOrderedWindowBoundsReadAhead(t *testing.T) {
	t.Parallel()
	const window, n = 3, 40
	var completed [n]atomic.Bool
	var restDone atomic.Int64
	rest := make(chan struct{})
	out := work.Stream(t.Context(), feed(seq(n)...), func(ctx context.Context, i int) (int, error) {
		if i >= window && !completed[i-window].Load() {
			t.Errorf("fn(%d) started before fn(%d) returned; window %d exceeded", i, i-window, window)
		}
		switch {
		case i == 0:
			select {
			case <-rest:
			case <-ctx.Done():
			}
		case i < window:
			if restDone.Add(1) == window-1 {
				close(rest)
			}
		}
		completed[i].Store(true)
		return i, nil
	}, work.Workers(8), work.Ordered(), work.Window(window))
	next := 0
	for r := range out {
		if r.Index != next {
			t.Fatalf("Stream(Ordered) delivered %d; want %d", r.Index, next)
		}
		next++
	}
	if next != n {
		t.Errorf("Stream delivered %d results; want %d", next, n)
	}
}
