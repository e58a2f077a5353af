package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chassis-go/chassis/internal/panicval"
)

// Component is one long-running part of a service: a server, a consumer, a
// background loop. It runs until it fails or until ctx is cancelled, then
// returns after stopping. A component should return nil, or an error
// matching context.Canceled, once it has stopped because ctx was cancelled;
// any other error is reported by [Run] as a failure.
type Component func(ctx context.Context) error

// ErrStoppedEarly is matched by the error [Run] returns when a component
// returned nil before shutdown began. A service whose server quietly stops
// is broken, so Run treats this as a failure and shuts the rest down.
var ErrStoppedEarly = errors.New("lifecycle: component stopped before shutdown")

// PanicError is returned by [Run] when a component panicked. The panic is
// recovered on the component's goroutine, the other components are shut
// down, and the process stays alive so that main can log and exit.
type PanicError struct {
	// Component is the index of the component in Run's arguments.
	Component int
	// Value is the value the component passed to panic.
	Value any
	// Stack is the component goroutine's stack at the panic, as formatted by
	// runtime/debug.Stack.
	Stack []byte
}

// Error returns one line, "lifecycle: component N panic: VALUE", without
// the stack (log Stack separately). VALUE is bounded to about 1 KiB and
// never formatted by recursing into the value, so a huge or
// self-referencing panic value is safe to log.
func (e *PanicError) Error() string {
	return "lifecycle: component " + strconv.Itoa(e.Component) + " panic: " + panicval.String(e.Value)
}

// Unwrap returns Value if it is an error, so errors.Is and errors.As see
// through a panic(err); otherwise nil.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// DefaultGrace is how long [Run] waits for its components once shutdown
// began: Kubernetes' default termination grace period, after which the
// process is killed anyway.
const DefaultGrace = 30 * time.Second

// ErrStillRunning is matched by the error [Run] returns when components had
// not returned when the grace period ended.
var ErrStillRunning = errors.New("lifecycle: components still running after the grace period")

// ErrNoComponents is returned by [Run] called with no components: a service
// that runs nothing is a wiring mistake, not a clean stop.
var ErrNoComponents = errors.New("lifecycle: Run was given no components")

// Run runs every component on its own goroutine and returns once all have
// returned. It is the usual last line of main:
//
//	if err := lifecycle.Run(ctx, lifecycle.HTTP(srv), worker); err != nil {
//		logger.Error("service failed", "err", err)
//		os.Exit(1)
//	}
//
// Shutdown begins with the first of these events, and Run then cancels the
// context it passed to every component:
//   - SIGINT or SIGTERM arrives: a clean stop;
//   - ctx is cancelled: a clean stop;
//   - a component returns an error or panics: a failure;
//   - a component returns nil: a failure wrapping [ErrStoppedEarly].
//
// The components' context carries ctx's values, and its context.Cause tells
// why it was cancelled (the signal, ctx's cause or the failing component's
// error). Run then waits for every component to return, for at most
// [DefaultGrace] (30s; [RunWithGrace] chooses another grace): components
// bound their own shutdown (see [ShutdownTimeout]), and the grace is the
// backstop for one that ignores its context. When the grace ends, Run
// returns an error matching [ErrStillRunning] that names the components
// still running; their goroutines are left behind, so main should exit. The
// second SIGINT or SIGTERM that Run receives ends the process at once with
// os.Exit(1), for an operator facing a stuck shutdown; the first one only
// begins (or joins) the graceful shutdown.
//
// Run returns nil after a clean stop in which every component returned nil
// or an error matching context.Canceled. Otherwise it returns the error that
// began shutdown, joined (errors.Join, first error first) with any other
// errors the components returned while stopping; when there is a single
// error it is returned as is. A panic is returned as a *[PanicError].
//
// Run listens for signals (signal.Notify) from its start until it returns,
// and then stops listening, restoring the signals' previous handling. With no
// components, Run returns [ErrNoComponents]; if ctx is already done, it
// returns nil at once without starting anything. Panics if a component is
// nil.
func Run(ctx context.Context, components ...Component) error {
	return run(ctx, runHooks{}, DefaultGrace, components)
}

// RunWithGrace is [Run] with grace instead of [DefaultGrace] as the longest
// wait for the components once shutdown began. Panics if grace is not
// positive.
func RunWithGrace(ctx context.Context, grace time.Duration, components ...Component) error {
	if grace <= 0 {
		panic(fmt.Sprintf("lifecycle.RunWithGrace: grace must be > 0, got %v; use lifecycle.Run for the 30s default", grace))
	}
	return run(ctx, runHooks{}, grace, components)
}

// runHooks are what tests replace: the signal source, os.Exit and the
// grace timer.
type runHooks struct {
	signals <-chan os.Signal                     // nil: SIGINT and SIGTERM from the OS
	exit    func(code int)                       // nil: os.Exit
	after   func(time.Duration) <-chan time.Time // nil: time.After
}

// result is what a component goroutine hands back.
type result struct {
	index int
	err   error
}

func run(ctx context.Context, hooks runHooks, grace time.Duration, components []Component) error {
	for i, c := range components {
		if c == nil {
			panic(fmt.Sprintf("lifecycle.Run: component %d is nil; pass a non-nil Component", i))
		}
	}
	if len(components) == 0 {
		return ErrNoComponents
	}
	if ctx.Err() != nil {
		return nil
	}
	after := hooks.after
	if after == nil {
		after = time.After
	}
	sigs := hooks.signals
	if sigs == nil {
		ch := make(chan os.Signal, 2)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(ch)
		sigs = ch
	}
	exit := hooks.exit
	if exit == nil {
		exit = os.Exit
	}

	// Components are cancelled only by Run, so their ctx.Err() is always
	// context.Canceled; ctx's own cancellation is relayed below.
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)

	results := make(chan result, len(components))
	for i, c := range components {
		go func() {
			r := result{index: i, err: fmt.Errorf("lifecycle: component %d called runtime.Goexit", i)}
			defer func() { results <- r }() // also runs on runtime.Goexit
			r.err = runComponent(runCtx, i, c)
		}()
	}

	var (
		errs      []error
		stopping  bool
		signals   int
		parent    = ctx.Done()
		remaining = len(components)
		running   = make([]bool, len(components))
		graceEnd  <-chan time.Time // set when shutdown begins
	)
	for i := range running {
		running[i] = true
	}
	stop := func(cause error) {
		stopping = true
		parent = nil
		graceEnd = after(grace)
		cancel(cause)
	}
	for remaining > 0 {
		select {
		case <-graceEnd:
			var names []string
			for i, r := range running {
				if r {
					names = append(names, strconv.Itoa(i))
				}
			}
			errs = append(errs, fmt.Errorf("%w: %v after shutdown began, component(s) %s did not return", ErrStillRunning, grace, strings.Join(names, ", ")))
			remaining = 0
		case r := <-results:
			remaining--
			running[r.index] = false
			switch {
			case !stopping:
				err := r.err
				if err == nil {
					err = fmt.Errorf("lifecycle: component %d: %w", r.index, ErrStoppedEarly)
				}
				errs = append(errs, err)
				stop(err)
			case r.err != nil && !errors.Is(r.err, context.Canceled):
				errs = append(errs, r.err)
			}
		case <-parent:
			stop(context.Cause(ctx))
		case sig := <-sigs:
			signals++
			if !stopping {
				stop(fmt.Errorf("lifecycle: received signal %v", sig))
			}
			if signals > 1 {
				exit(1) // the operator insists; in tests, exit returns
			}
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

// runComponent calls c, turning a panic into a *PanicError.
func runComponent(ctx context.Context, i int, c Component) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Component: i, Value: v, Stack: debug.Stack()}
		}
	}()
	return c(ctx)
}
