package tick

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chassis-go/chassis/internal/panicval"
	"github.com/robfig/cron/v3"
)

// releaseTimeout bounds the release of a lease after a run, which happens
// even when Run's context is already cancelled.
const releaseTimeout = 5 * time.Second

// ErrAlreadyRunning is returned by [Job.Run] when the job's Run is already
// running: one Job runs on one goroutine at a time.
var ErrAlreadyRunning = errors.New("tick: job already running")

// ErrTimeout is the [context.Cause] of a run's context when the run
// overran its [Timeout]. It matches context.DeadlineExceeded.
var ErrTimeout = fmt.Errorf("tick: run timed out: %w", context.DeadlineExceeded)

// ErrNoNextTick is returned by [Job.Run] when a [Cron] schedule has no
// further activation (the expression matches no date within five years).
var ErrNoNextTick = errors.New("tick: cron schedule has no next activation")

// PanicError is the error of a run in which fn panicked. The panic is
// recovered on the job's goroutine; the job goes on with its next tick
// unless its policy is [Stop].
type PanicError struct {
	// Job is the job's name.
	Job string
	// Value is the value fn passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic, as formatted by
	// runtime/debug.Stack. It is not part of Error.
	Stack []byte
}

// Error returns `tick: job "NAME" panicked: VALUE`, the value formatted by
// internal/panicval (bounded, never recursing into it).
func (e *PanicError) Error() string {
	return fmt.Sprintf("tick: job %q panicked: %s", e.Job, panicval.String(e.Value))
}

// Unwrap returns Value when it is an error, and nil otherwise.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// timer is the part of *time.Timer a Job uses; tests replace the timer
// source with a fake one.
type timer interface {
	C() <-chan time.Time
	Stop() bool
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

func newRealTimer(d time.Duration) timer { return realTimer{time.NewTimer(d)} }

// Job is a function run on a schedule. Build one with [Every] or [Cron];
// the zero Job is not usable. Its methods are safe for concurrent use. A
// Job may be run again after its Run returned, but by one Run at a time.
type Job struct {
	name     string
	fn       func(context.Context) error
	interval time.Duration // Every; 0 for Cron
	cron     cron.Schedule // Cron; nil for Every
	cfg      config
	m        *metrics

	// Seams for tests in this package; set before Run, never changed after.
	now      func() time.Time
	newTimer func(time.Duration) timer
	randN    func(n int64) int64 // a value in [0, n)

	active atomic.Bool // Run is running

	mu sync.Mutex
	st Status // guarded by mu
}

// Every returns a job that calls fn every interval, starting as soon as
// [Job.Run] is called (see [StartJitter] to delay and spread the start).
// The ticks are Run's start + k·interval: they never drift, whatever the
// runs' durations, and a run that is still going at a tick makes the job
// skip that tick (counted in chassis.tick.skipped) rather than run late
// and bunch up.
//
// name identifies the job in logs, metrics (the chassis.job attribute),
// health errors and lock keys, so it must come from a small fixed set
// chosen by the program, such as "purge-notes"; two jobs of one service
// with the same name would share their metric series and their lock. The
// options are described
// with each; by default a failed run is logged and the job continues.
//
// Panics if name is empty, interval is not positive, fn is nil, or the
// [Jitter] is not shorter than interval.
func Every(name string, interval time.Duration, fn func(context.Context) error, opts ...Option) *Job {
	if interval <= 0 {
		panic(fmt.Sprintf("tick.Every: interval is %v; pass a positive duration", interval))
	}
	j := newJob("tick.Every", name, fn, opts)
	if j.cfg.jitter >= interval {
		panic(fmt.Sprintf("tick.Every: Jitter %v is not shorter than the interval %v; use a jitter below the interval", j.cfg.jitter, interval))
	}
	j.interval = interval
	return j
}

// Cron returns a job that calls fn at the activations of a cron expression
// (github.com/robfig/cron/v3 standard syntax: five fields minute hour
// day-of-month month day-of-week, or a descriptor such as "@hourly" or
// "@every 90m"). Times are in the process's local time zone unless the
// expression starts with "CRON_TZ=Area/City " (for example
// "CRON_TZ=UTC 0 3 * * *"). The first activation after Run starts is the
// first tick; activations that pass while a run is still going are
// skipped, as for [Every].
//
// Cron returns an error if spec does not parse or matches no date in the
// next five years, so that an expression read from configuration can be
// reported. It panics on the programmer errors [Every] panics on.
func Cron(name, spec string, fn func(context.Context) error, opts ...Option) (*Job, error) {
	s, err := parseCron(spec)
	if err != nil {
		return nil, err
	}
	j := newJob("tick.Cron", name, fn, opts)
	j.cron = s
	return j, nil
}

// parseCron parses spec with the standard parser, turning a panic of the
// parser (which it has had on odd input) into an error.
func parseCron(spec string) (s cron.Schedule, err error) {
	defer func() {
		if v := recover(); v != nil {
			s, err = nil, fmt.Errorf("tick: cron expression %q: parser panicked: %s", spec, panicval.String(v))
		}
	}()
	s, err = cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("tick: cron expression %q: %w", spec, err)
	}
	if s.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("tick: cron expression %q matches no date in the next five years", spec)
	}
	return s, nil
}

func newJob(fname, name string, fn func(context.Context) error, opts []Option) *Job {
	if name == "" {
		panic(fname + ": name is empty; give the job a short fixed name such as \"purge-notes\"")
	}
	if fn == nil {
		panic(fmt.Sprintf("%s: fn of job %q is nil; pass the function to run", fname, name))
	}
	cfg := newConfig(opts)
	return &Job{
		name:     name,
		fn:       fn,
		cfg:      cfg,
		m:        newMetrics(cfg.mp, name),
		now:      time.Now,
		newTimer: newRealTimer,
		randN:    rand.Int64N,
		st:       Status{Name: name},
	}
}

// Name returns the job's name.
func (j *Job) Name() string { return j.name }

// Run runs the job until ctx is cancelled; it has the signature of a
// lifecycle.Component, so pass j.Run to lifecycle.Run. Runs happen one
// after the other on Run's goroutine, never overlapping.
//
// Cancellation contract: cancelling ctx while Run waits for the next tick
// makes it return ctx.Err() at once. A run in progress is not abandoned:
// its context (derived from ctx) is cancelled, Run waits for fn to return,
// releases the lease, and returns ctx.Err(); no further run starts. So Run
// returns within one run of the cancellation, provided fn honours its
// context. Run starts no goroutine that outlives it (with [WithLock], one
// goroutine per run watches the lease and is joined before the run ends).
//
// A run's error or panic is logged and counted, then handled per
// [OnError]: with [Stop], Run returns it (a *[PanicError] for a panic);
// otherwise Run goes on. Run returns [ErrAlreadyRunning] if the job is
// already running, and ctx.Err() at once if ctx is already done.
func (j *Job) Run(ctx context.Context) error {
	if !j.active.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer j.active.Store(false)
	if err := ctx.Err(); err != nil {
		return err
	}

	start := j.now()
	if j.cfg.startJitter > 0 {
		start = start.Add(j.jitter(j.cfg.startJitter))
	}
	var s schedule = cronSchedule{j.cron}
	if j.cron == nil {
		s = every{anchor: start, interval: j.interval}
	}
	j.update(func(st *Status) {
		st.Running, st.Started = true, j.now()
		st.LastSuccess, st.lastOK = time.Time{}, time.Time{}
	})
	defer j.update(func(st *Status) { st.Running, st.Next = false, time.Time{} })
	reg := j.m.observeAge(j.age)
	defer func() { _ = reg.Unregister() }()

	due := s.first(start)
	failures := 0
	for {
		if due.IsZero() {
			return ErrNoNextTick
		}
		at := due
		if j.cfg.jitter > 0 {
			at = at.Add(j.jitter(j.cfg.jitter))
		}
		j.update(func(st *Status) { st.Next = at })
		if !j.wait(ctx, at) {
			return ctx.Err()
		}
		j.update(func(st *Status) { st.Next = time.Time{} })
		err := j.tick(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			failures++
			if j.cfg.policy == Stop {
				return err
			}
		} else {
			failures = 0
		}

		next, skipped := skipTo(s, due, j.now())
		if skipped > 0 {
			j.skip(ctx, skipOverrun, skipped)
		}
		if j.cfg.policy == BackOff && failures > 1 {
			extra := min(1<<min(failures-1, 5), maxBackoffTicks) - 1
			for i := 0; i < extra && !next.IsZero(); i++ {
				next = s.next(next)
			}
			j.skip(ctx, skipBackoff, extra)
		}
		due = next
	}
}

// jitter returns a random duration in [0, d).
func (j *Job) jitter(d time.Duration) time.Duration { return time.Duration(j.randN(int64(d))) }

// wait blocks until the clock reads at or ctx is done, and reports whether
// it is time to run.
func (j *Job) wait(ctx context.Context, at time.Time) bool {
	d := at.Sub(j.now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := j.newTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// tick is one tick: take the lease if there is a lock, run fn, release.
// It returns the run's error, nil if the run succeeded, was ended by
// shutdown, or the tick was skipped because another holder has the lease.
func (j *Job) tick(ctx context.Context) error {
	if j.cfg.locker == nil {
		return j.run(ctx, nil)
	}
	lease, err := j.acquire(ctx)
	if lease == nil {
		return err
	}
	defer j.release(ctx, lease)
	return j.run(ctx, lease)
}

// acquire asks the Locker for the lease. Without a lease it returns the
// tick's result: nil for a tick skipped or ended by shutdown, the failure
// otherwise.
func (j *Job) acquire(ctx context.Context) (Lease, error) {
	lease, err := j.cfg.locker.Acquire(ctx, j.name)
	switch {
	case ctx.Err() != nil:
		if err == nil && lease != nil {
			j.release(ctx, lease)
		}
		return nil, nil
	case errors.Is(err, ErrLocked):
		j.skip(ctx, skipLocked, 1)
		j.update(func(st *Status) { st.lastOK = j.now() })
		return nil, nil
	case err == nil && lease == nil:
		err = errors.New("the Locker returned neither a lease nor an error")
	}
	if err != nil {
		err = fmt.Errorf("tick: job %q: acquire lock: %w", j.name, err)
		j.fail(ctx, failLock, err)
		return nil, err
	}
	return lease, nil
}

// run calls fn once, under lease if not nil, and records the outcome.
func (j *Job) run(ctx context.Context, lease Lease) error {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if lease != nil {
		if tok := lease.Token(); tok != 0 {
			runCtx = context.WithValue(runCtx, tokenKey{}, tok)
		}
		// Cancel the run as soon as the lease is lost; the watcher is
		// joined before run returns.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			select {
			case <-lease.Lost():
				cancel(ErrLeaseLost)
			case <-stop:
			}
		})
		defer wg.Wait()
		defer close(stop)
	}
	if j.cfg.timeout > 0 {
		var cancelT context.CancelFunc
		runCtx, cancelT = context.WithTimeoutCause(runCtx, j.cfg.timeout, ErrTimeout)
		defer cancelT()
	}

	j.m.runs.Add(ctx, 1, j.m.job)
	started := j.now()
	j.update(func(st *Status) { st.LastRun = started; st.Runs++ })
	err := j.call(runCtx)
	end := j.now()
	dur := end.Sub(started).Seconds()

	switch {
	case err == nil:
		j.m.duration.Record(ctx, dur, j.m.outOpts[outcomeSuccess])
		j.update(func(st *Status) { st.LastSuccess, st.lastOK, st.LastError = end, end, nil })
		return nil
	case ctx.Err() != nil && !errors.As(err, new(*PanicError)):
		// Shutdown: neither a success nor a failure (a panic still is one).
		j.m.duration.Record(ctx, dur, j.m.outOpts[outcomeCanceled])
		return nil
	}
	j.m.duration.Record(ctx, dur, j.m.outOpts[outcomeFailure])
	class, err := j.classify(runCtx, err)
	j.fail(ctx, class, err)
	return err
}

// classify returns the failure class (error.type) of a run that returned
// err, and the error to report: err itself for a panic, otherwise err
// prefixed with the job's name and, when the run's context ended because
// of its timeout or a lost lease, that cause.
func (j *Job) classify(runCtx context.Context, err error) (string, error) {
	var pe *PanicError
	if errors.As(err, &pe) {
		return failPanic, err
	}
	cause := context.Cause(runCtx)
	class := failError
	switch {
	case runCtx.Err() == nil:
	case cause == ErrLeaseLost:
		class = failLeaseLost
	case cause == ErrTimeout:
		class = failTimeout
	}
	switch {
	case class == failError || errors.Is(err, cause):
		return class, fmt.Errorf("tick: job %q: %w", j.name, err)
	case errors.Is(cause, err):
		// fn returned ctx.Err(), which the cause already says.
		return class, fmt.Errorf("tick: job %q: %w", j.name, cause)
	default:
		return class, fmt.Errorf("tick: job %q: %w: %w", j.name, cause, err)
	}
}

// call runs fn, turning a panic into a *PanicError.
func (j *Job) call(ctx context.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Job: j.name, Value: v, Stack: debug.Stack()}
		}
	}()
	return j.fn(ctx)
}

// release gives the lease up, even after ctx was cancelled.
func (j *Job) release(ctx context.Context, l Lease) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := l.Release(rctx); err != nil {
		j.cfg.logger.WarnContext(ctx, "tick: lease release failed", "job", j.name, "err", err)
	}
}

func (j *Job) fail(ctx context.Context, class string, err error) {
	j.m.failures.Add(ctx, 1, j.m.failOpts[class])
	j.update(func(st *Status) { st.Failures++; st.LastError = err })
	j.cfg.logger.ErrorContext(ctx, "tick: run failed", "job", j.name, "error.type", class, "err", err)
}

func (j *Job) skip(ctx context.Context, reason string, n int) {
	if n <= 0 {
		return
	}
	j.m.skipped.Add(ctx, int64(n), j.m.skipOpts[reason])
	j.update(func(st *Status) { st.Skipped += uint64(n) })
	if reason == skipOverrun {
		j.cfg.logger.WarnContext(ctx, "tick: run overran its schedule; ticks skipped", "job", j.name, "skipped", n)
	}
}

func (j *Job) update(f func(*Status)) {
	j.mu.Lock()
	f(&j.st)
	j.mu.Unlock()
}

// age returns the time since the last success (since Run started if there
// was none), and false when Run is not running.
func (j *Job) age() (time.Duration, bool) {
	j.mu.Lock()
	st := j.st
	j.mu.Unlock()
	if !st.Running {
		return 0, false
	}
	ref := st.LastSuccess
	if ref.IsZero() {
		ref = st.Started
	}
	return j.now().Sub(ref), true
}
