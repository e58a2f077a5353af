package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
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

// Error returns "lifecycle: component N panicked: VALUE" followed by a
// newline and the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("lifecycle: component %d panicked: %v\n%s", e.Component, e.Value, e.Stack)
}

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
// error). Run then waits for every component to return, however long that
// takes: components bound their own shutdown (see [ShutdownTimeout]). The
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
// components, or if ctx is already done, Run returns nil at once without
// starting anything. Panics if a component is nil.
func Run(ctx context.Context, components ...Component) error {
	return run(ctx, runHooks{}, components)
}

// runHooks are what tests replace: the signal source and os.Exit.
type runHooks struct {
	signals <-chan os.Signal // nil: SIGINT and SIGTERM from the OS
	exit    func(code int)   // nil: os.Exit
}

// result is what a component goroutine hands back.
type result struct {
	index int
	err   error
}

func run(ctx context.Context, hooks runHooks, components []Component) error {
	for i, c := range components {
		if c == nil {
			panic(fmt.Sprintf("lifecycle.Run: component %d is nil; pass a non-nil Component", i))
		}
	}
	if len(components) == 0 || ctx.Err() != nil {
		return nil
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
	)
	stop := func(cause error) {
		stopping = true
		parent = nil
		cancel(cause)
	}
	for remaining > 0 {
		select {
		case r := <-results:
			remaining--
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
