package work_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/work"
)

func TestRace(t *testing.T) {
	t.Parallel()
	t.Run("no tasks", func(t *testing.T) {
		t.Parallel()
		v, err := work.Race[int](t.Context())
		if v != 0 || !errors.Is(err, work.ErrNoTasks) {
			t.Errorf("Race() = %v, %v; want 0, ErrNoTasks", v, err)
		}
	})

	t.Run("done before start", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		v, err := work.Race(ctx, func(context.Context) (int, error) {
			t.Error("task run with a done context")
			return 1, nil
		})
		if v != 0 || err != context.Canceled {
			t.Errorf("Race(done ctx) = %v, %v; want 0, context.Canceled", v, err)
		}
	})

	t.Run("all fail", func(t *testing.T) {
		t.Parallel()
		_, err := work.Race(t.Context(),
			func(context.Context) (int, error) { return 0, fmt.Errorf("a: %w", errBoom) },
			func(context.Context) (int, error) { panic("b") },
			func(context.Context) (int, error) { return 0, errors.New("c") },
		)
		var errs *work.Errors
		if !errors.As(err, &errs) || len(errs.Errs) != 3 {
			t.Fatalf("Race(all failing) = %v; want *Errors with 3 items", err)
		}
		for i, e := range errs.Errs {
			if e.Index != i {
				t.Errorf("Errs[%d].Index = %d; want %d", i, e.Index, i)
			}
		}
		var pe *work.PanicError
		if !errors.Is(err, errBoom) || !errors.As(err, &pe) || pe.Value != "b" {
			t.Errorf("Race(all failing) = %v; want it to wrap boom and a PanicError(b)", err)
		}
	})

	t.Run("first success wins and losers are cancelled", func(t *testing.T) {
		t.Parallel()
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		loserDone := make(chan error, 1)
		v, err := work.Race(t.Context(),
			func(ctx context.Context) (string, error) {
				<-ctx.Done()
				loserDone <- ctx.Err()
				return "loser", nil
			},
			func(context.Context) (string, error) { return "", errBoom },
			func(context.Context) (string, error) { return "winner", nil },
		)
		if v != "winner" || err != nil {
			t.Fatalf("Race() = %q, %v; want winner, nil", v, err)
		}
		if err := <-loserDone; !errors.Is(err, context.Canceled) {
			t.Errorf("loser ctx.Err() = %v; want context.Canceled", err)
		}
	})

	t.Run("returns before a loser that ignores ctx", func(t *testing.T) {
		t.Parallel()
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		release := make(chan struct{})
		defer close(release) // runs before VerifyNone: the loser exits then
		v, err := work.Race(t.Context(),
			func(context.Context) (int, error) {
				<-release // ignores its context
				return 1, nil
			},
			func(context.Context) (int, error) { return 2, nil },
		)
		if v != 2 || err != nil {
			t.Errorf("Race() = %v, %v; want 2, nil", v, err)
		}
	})

	t.Run("cancel while every task ignores ctx", func(t *testing.T) {
		t.Parallel()
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		release := make(chan struct{})
		defer close(release)
		ctx, cancel := context.WithCancel(t.Context())
		started := make(chan struct{})
		go func() {
			<-started
			cancel()
		}()
		v, err := work.Race(ctx, func(context.Context) (int, error) {
			close(started)
			<-release
			return 1, nil
		})
		if v != 0 || !errors.Is(err, context.Canceled) {
			t.Errorf("Race(cancelled) = %v, %v; want 0, context.Canceled", v, err)
		}
	})

	t.Run("single task", func(t *testing.T) {
		t.Parallel()
		v, err := work.Race(t.Context(), func(context.Context) (int, error) { return 7, nil })
		if v != 7 || err != nil {
			t.Errorf("Race(one task) = %v, %v; want 7, nil", v, err)
		}
	})
}
