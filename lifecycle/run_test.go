package lifecycle_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chassis-go/chassis/lifecycle"
)

var (
	errBoom = errors.New("boom")
	errLate = errors.New("late")
)

// untilDone is a component that returns ret once its context is cancelled.
func untilDone(ret error) lifecycle.Component {
	return func(ctx context.Context) error {
		<-ctx.Done()
		return ret
	}
}

// runAsync runs Run on a goroutine and returns once every component has
// started; the returned channel yields Run's result.
func runAsync(ctx context.Context, cs ...lifecycle.Component) <-chan error {
	var started sync.WaitGroup
	wrapped := make([]lifecycle.Component, len(cs))
	for i, c := range cs {
		started.Add(1)
		wrapped[i] = func(ctx context.Context) error {
			started.Done()
			return c(ctx)
		}
	}
	done := make(chan error, 1)
	go func() { done <- lifecycle.Run(ctx, wrapped...) }()
	started.Wait()
	return done
}

func TestRun_nothingToDo(t *testing.T) {
	t.Parallel()
	if err := lifecycle.Run(context.Background()); !errors.Is(err, lifecycle.ErrNoComponents) {
		t.Errorf("Run(ctx) = %v; want ErrNoComponents", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var called atomic.Bool
	err := lifecycle.Run(ctx, func(context.Context) error { called.Store(true); return nil })
	if err != nil || called.Load() {
		t.Errorf("Run(cancelled ctx, c) = %v, called %v; want nil, not called", err, called.Load())
	}
}

func TestRun_nilComponentPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		msg, _ := recover().(string)
		if !strings.HasPrefix(msg, "lifecycle.Run: component 1 is nil;") {
			t.Errorf("Run(ctx, c, nil) panic = %q; want lifecycle.Run: component 1 is nil; ...", msg)
		}
	}()
	_ = lifecycle.Run(context.Background(), untilDone(nil), nil)
}

func TestRun_cleanStop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ret  error
	}{
		{"components return nil", nil},
		{"components return ctx.Err", context.Canceled},
		{"components wrap ctx.Err", errors.Join(errors.New("consumer stopped"), context.Canceled)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancelCause(context.Background())
			stopErr := errors.New("test says stop")
			var causes [2]atomic.Value
			comp := func(i int) lifecycle.Component {
				return func(ctx context.Context) error {
					<-ctx.Done()
					causes[i].Store(context.Cause(ctx))
					if !errors.Is(ctx.Err(), context.Canceled) {
						t.Errorf("component ctx.Err() = %v; want context.Canceled", ctx.Err())
					}
					return tc.ret
				}
			}
			done := runAsync(ctx, comp(0), comp(1))
			cancel(stopErr)
			if err := <-done; err != nil {
				t.Errorf("Run() after ctx cancel = %v; want nil", err)
			}
			for i := range causes {
				if got, _ := causes[i].Load().(error); !errors.Is(got, stopErr) {
					t.Errorf("component %d context.Cause = %v; want %v", i, got, stopErr)
				}
			}
		})
	}
}

func TestRun_parentDeadline(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var gotErr atomic.Value
	err := lifecycle.Run(ctx, func(ctx context.Context) error {
		<-ctx.Done()
		gotErr.Store(ctx.Err())
		return ctx.Err()
	})
	if err != nil {
		t.Errorf("Run(expiring ctx) = %v; want nil", err)
	}
	if got, _ := gotErr.Load().(error); got != nil && !errors.Is(got, context.Canceled) {
		t.Errorf("component ctx.Err() = %v; want context.Canceled", got)
	}
}

func TestRun_contextValues(t *testing.T) {
	t.Parallel()
	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	var got atomic.Value
	done := runAsync(ctx, func(ctx context.Context) error {
		got.Store(ctx.Value(key{}))
		<-ctx.Done()
		return nil
	})
	cancel()
	<-done
	if got.Load() != "v" {
		t.Errorf("component ctx.Value = %v; want v", got.Load())
	}
}

func TestRun_failure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		failing lifecycle.Component
		others  []lifecycle.Component
		check   func(t *testing.T, err error)
	}{
		{
			name:    "error returned as is",
			failing: func(context.Context) error { return errBoom },
			others:  []lifecycle.Component{untilDone(nil), untilDone(context.Canceled)},
			check: func(t *testing.T, err error) {
				if err != errBoom { // documented: a single error is returned as is, not wrapped
					t.Errorf("Run() = %v; want errBoom itself", err)
				}
			},
		},
		{
			name:    "errors while stopping are joined",
			failing: func(context.Context) error { return errBoom },
			others:  []lifecycle.Component{untilDone(errLate), untilDone(context.Canceled)},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, errBoom) || !errors.Is(err, errLate) || errors.Is(err, context.Canceled) {
					t.Errorf("Run() = %v; want errBoom joined with errLate, no context.Canceled", err)
				}
				if !strings.HasPrefix(err.Error(), "boom\n") {
					t.Errorf("Run() = %q; want the first error first", err)
				}
			},
		},
		{
			name:    "nil before shutdown",
			failing: func(context.Context) error { return nil },
			others:  []lifecycle.Component{untilDone(nil)},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, lifecycle.ErrStoppedEarly) || !strings.Contains(err.Error(), "component 1") {
					t.Errorf("Run() = %v; want ErrStoppedEarly naming component 1", err)
				}
			},
		},
		{
			name:    "canceled before shutdown is a failure",
			failing: func(context.Context) error { return context.Canceled },
			others:  []lifecycle.Component{untilDone(nil)},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run() = %v; want context.Canceled", err)
				}
			},
		},
		{
			name:    "panic",
			failing: func(context.Context) error { panic("kaboom") },
			others:  []lifecycle.Component{untilDone(nil)},
			check: func(t *testing.T, err error) {
				var pe *lifecycle.PanicError
				if !errors.As(err, &pe) {
					t.Fatalf("Run() = %v; want *PanicError", err)
				}
				if pe.Component != 1 || pe.Value != "kaboom" || len(pe.Stack) == 0 {
					t.Errorf("PanicError = %d, %v, %d-byte stack; want 1, kaboom, a stack", pe.Component, pe.Value, len(pe.Stack))
				}
				if msg := pe.Error(); msg != "lifecycle: component 1 panic: kaboom" {
					t.Errorf("PanicError.Error() = %q; want one line without the stack", msg)
				}
			},
		},
		{
			name:    "goexit",
			failing: func(context.Context) error { runtime.Goexit(); return nil },
			others:  []lifecycle.Component{untilDone(nil)},
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "Goexit") {
					t.Errorf("Run() = %v; want a Goexit error", err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cause atomic.Value
			first := func(ctx context.Context) error {
				<-ctx.Done()
				cause.Store(context.Cause(ctx))
				return nil
			}
			cs := append([]lifecycle.Component{first, tc.failing}, tc.others...)
			err := lifecycle.Run(context.Background(), cs...)
			tc.check(t, err)
			got, _ := cause.Load().(error)
			if got == nil || !strings.Contains(err.Error(), got.Error()) {
				t.Errorf("other component's context.Cause = %v; want the failure (%v)", got, err)
			}
		})
	}
}

func TestRun_waitsForAll(t *testing.T) {
	t.Parallel()
	stopping := make(chan struct{})
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(ctx, untilDone(nil), func(ctx context.Context) error {
		<-ctx.Done()
		close(stopping)
		<-release
		return nil
	})
	cancel()
	<-stopping
	select {
	case err := <-done:
		t.Fatalf("Run() = %v before a component returned; want it to wait", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
}

// TestRun_realSignal sends SIGTERM to the test process itself. Run has
// registered its handler before any component starts, so the signal cannot
// kill the process.
func TestRun_realSignal(t *testing.T) {
	var cause atomic.Value
	err := lifecycle.Run(context.Background(), func(ctx context.Context) error {
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			return err
		}
		<-ctx.Done()
		cause.Store(context.Cause(ctx))
		return nil
	})
	if err != nil {
		t.Errorf("Run() after SIGTERM = %v; want nil", err)
	}
	if got, _ := cause.Load().(error); got == nil || got.Error() != "lifecycle: received signal terminated" {
		t.Errorf("context.Cause after SIGTERM = %v; want lifecycle: received signal terminated", got)
	}
}
