package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRun_grace: a component that ignores its context cannot hold Run past
// the grace period; the error names it.
func TestRun_grace(t *testing.T) {
	t.Parallel()
	graceEnd := make(chan time.Time)
	var asked time.Duration
	hooks := runHooks{
		signals: make(chan os.Signal),
		exit:    func(int) { t.Error("exit called") },
		after:   func(d time.Duration) <-chan time.Time { asked = d; return graceEnd },
	}
	stuck, started := make(chan struct{}), make(chan struct{})
	defer close(stuck) // let the stuck component's goroutine end for goleak
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, hooks, 7*time.Second, []Component{
			func(context.Context) error { close(started); <-stuck; return nil }, // ignores ctx
		})
	}()
	<-started
	cancel()
	graceEnd <- time.Time{}
	err := <-done
	if !errors.Is(err, ErrStillRunning) || !strings.Contains(err.Error(), "component(s) 0 did not return") || asked != 7*time.Second {
		t.Errorf("run() = %v (grace %v); want ErrStillRunning naming component 0 after 7s", err, asked)
	}
}

// TestRunWithGrace_panics checks the construction rule.
func TestRunWithGrace_panics(t *testing.T) {
	t.Parallel()
	defer func() {
		msg := fmt.Sprint(recover())
		if !strings.HasPrefix(msg, "lifecycle.RunWithGrace: grace must be > 0, got 0s;") {
			t.Errorf("panic = %q", msg)
		}
	}()
	_ = RunWithGrace(context.Background(), 0, func(context.Context) error { return nil })
}

// stuckServer is a Server whose Serve does not return after Close until
// released, like a grpc.Server waiting for a handler that ignores its
// context.
type stuckServer struct {
	serving  chan struct{}
	released chan struct{}
}

func (s *stuckServer) Serve() error {
	close(s.serving)
	<-s.released
	return nil
}
func (s *stuckServer) Shutdown(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
func (s *stuckServer) Close() error                       { return nil }

// TestServe_closeWaitBounded: after Close, the drain waits a bounded time
// for Serve to return, then gives up with an error.
func TestServe_closeWaitBounded(t *testing.T) {
	t.Parallel()
	srv := &stuckServer{serving: make(chan struct{}), released: make(chan struct{})}
	defer close(srv.released)
	closeWaitEnd := make(chan time.Time, 1)
	closeWaitEnd <- time.Time{}
	comp := Serve(srv, ShutdownTimeout(time.Nanosecond),
		withClock(nil, func(d time.Duration) <-chan time.Time {
			if d != closeWait {
				t.Errorf("after(%v); want closeWait", d)
			}
			return closeWaitEnd
		}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- comp(ctx) }()
	<-srv.serving
	cancel()
	err := <-done
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not stop within 1s") {
		t.Errorf("Serve component = %v; want the bounded-close error", err)
	}
}

// TestNilOptions: nil options are ignored and nil values mean the default.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	var nilDrain DrainOption
	var nilHTTP HTTPOption
	c := httpConfig{drain: newDrainConfig([]DrainOption{nil, BeforeShutdown(nil)})}
	for _, o := range []HTTPOption{nilHTTP, nilDrain, Listener(nil), BeforeShutdown(nil)} {
		if o != nil {
			o.applyHTTP(&c)
		}
	}
	if c.listener != nil || len(c.drain.before) != 0 || c.drain.timeout != DefaultShutdownTimeout || c.drain.delay != 0 {
		t.Errorf("config after nil options = %+v; want the defaults", c)
	}
	// HTTP and Serve accept them too.
	_ = HTTP(&httpServerForNil, nil, nilDrain, Listener(nil))
	_ = Serve(&stuckServer{}, nil, BeforeShutdown(nil))
}

var httpServerForNil = http.Server{}

// TestPanicError_bounded: a huge panic value gives a bounded message and a
// self-referencing one does not crash; Unwrap sees an error value.
func TestPanicError_bounded(t *testing.T) {
	t.Parallel()
	self := map[string]any{}
	self["self"] = self
	errBoom := errors.New("boom")
	tests := []struct {
		name  string
		value any
		want  string
	}{
		{"10 MB string", strings.Repeat("x", 10<<20), "lifecycle: component 0 panic: xxx"},
		{"self-referencing map", self, "lifecycle: component 0 panic: (map[string]interface {})"},
		{"error", fmt.Errorf("wrapped: %w", errBoom), "lifecycle: component 0 panic: wrapped: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), runHooks{signals: make(chan os.Signal)}, DefaultGrace,
				[]Component{func(context.Context) error { panic(tt.value) }})
			var pe *PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("run() = %v; want *PanicError", err)
			}
			if msg := pe.Error(); len(msg) > 1200 || !strings.HasPrefix(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("Error() = %.80q (%d bytes); want one line of at most 1200 bytes starting %q", msg, len(msg), tt.want)
			}
		})
	}
	err := &PanicError{Value: errBoom}
	if !errors.Is(err, errBoom) || (&PanicError{Value: "s"}).Unwrap() != nil {
		t.Errorf("Unwrap does not return an error Value (or returns a non-error one)")
	}
}

// TestDrain: Drain applies its options in order and ignores nil ones.
func TestDrain(t *testing.T) {
	t.Parallel()
	c := newDrainConfig([]DrainOption{Drain(nil, DrainDelay(time.Second), BeforeShutdown(func() {}), DrainDelay(2*time.Second)), nil})
	if c.delay != 2*time.Second || len(c.before) != 1 || c.timeout != DefaultShutdownTimeout {
		t.Errorf("config = %+v; want delay 2s, one BeforeShutdown, the default timeout", c)
	}
}
