package tick

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const sec = time.Second

var errBoom = errors.New("boom")

func every10(opts ...Option) func(fn func(context.Context) error, mp Option) *Job {
	return func(fn func(context.Context) error, mp Option) *Job {
		return Every("job", 10*sec, fn, append(opts, mp)...)
	}
}

// The ticks are start + k·interval whatever the runs' durations: no drift.
func TestEveryNoDrift(t *testing.T) {
	h := start(t, every10())
	h.finish(h.call(), 3*sec, nil) // first tick at start, no wait
	for k, d := range []time.Duration{7 * sec, 0, 9*sec + 999*time.Millisecond, 10 * sec} {
		due := t0.Add(time.Duration(k+1) * 10 * sec)
		h.expectTimer(due)
		h.fire(due)
		inv := h.call()
		if k == 3 {
			// A run that ends exactly on the next tick: that tick runs at once.
			h.finish(inv, d, nil)
			h.finish(h.call(), 0, nil)
			break
		}
		h.finish(inv, d, nil)
	}
	h.expectTimer(t0.Add(60 * sec))
	if st := h.job.Status(); st.Runs != 6 || st.Skipped != 0 || st.Failures != 0 {
		t.Errorf("Status() = runs %d, skipped %d, failures %d; want 6, 0, 0", st.Runs, st.Skipped, st.Failures)
	}
}

// A run longer than the interval skips the ticks that pass, and the next
// run is on the schedule, not late and not bunched.
func TestEveryOverrunSkips(t *testing.T) {
	h := start(t, every10())
	h.finish(h.call(), 25*sec, nil) // ends at 25s: ticks 10s and 20s missed
	h.expectTimer(t0.Add(30 * sec))
	if st := h.job.Status(); st.Skipped != 2 {
		t.Errorf("Status().Skipped = %d; want 2", st.Skipped)
	}
	h.fire(t0.Add(45 * sec)) // the timer fires late (a paused process)
	h.finish(h.call(), 0, nil)
	// The 30s tick ran late, once; the 40s one passed meanwhile and is
	// skipped: no catch-up burst.
	h.expectTimer(t0.Add(50 * sec))
	if got := h.metrics(); got.skipped["overrun"] != 3 || got.runs != 2 {
		t.Errorf("metrics skipped[overrun] = %d, runs = %d; want 3, 2", got.skipped["overrun"], got.runs)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "skipped=2") {
		t.Errorf("logs = %q; want a warning with skipped=2", logs)
	}
}

func TestJitter(t *testing.T) {
	// randN returns n/2: each run 2s after its tick, the schedule 3s after start.
	h := start(t, every10(Jitter(4*sec), StartJitter(6*sec)))
	h.expectTimer(t0.Add(5 * sec))
	if st := h.job.Status(); !st.Next.Equal(t0.Add(5 * sec)) {
		t.Errorf("Status().Next = %v; want start+5s", st.Next.Sub(t0))
	}
	h.fire(t0.Add(5 * sec))
	h.finish(h.call(), sec, nil)
	h.expectTimer(t0.Add(15 * sec))
	h.fire(t0.Add(15 * sec))
	h.finish(h.call(), 9*sec, nil) // ends 24s: the 23s tick is missed
	h.expectTimer(t0.Add(35 * sec))
}

func TestCronSchedule(t *testing.T) {
	h := start(t, func(fn func(context.Context) error, mp Option) *Job {
		j, err := Cron("cron", "CRON_TZ=UTC */5 * * * *", fn, mp)
		if err != nil {
			t.Fatalf("Cron() error = %v", err)
		}
		return j
	})
	first := time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)
	h.expectTimer(first)
	h.fire(first)
	h.finish(h.call(), 12*time.Minute, nil) // ends 3:17: 3:10 and 3:15 skipped
	h.expectTimer(first.Add(15 * time.Minute))
	if st := h.job.Status(); st.Skipped != 2 {
		t.Errorf("Status().Skipped = %d; want 2", st.Skipped)
	}
}

func TestErrorPolicies(t *testing.T) {
	t.Run("continue", func(t *testing.T) {
		h := start(t, every10())
		h.finish(h.call(), 0, errBoom)
		h.expectTimer(t0.Add(10 * sec))
		h.fire(t0.Add(10 * sec))
		h.finish(h.call(), 0, errBoom)
		h.expectTimer(t0.Add(20 * sec))
		st := h.job.Status()
		if st.Failures != 2 || !errors.Is(st.LastError, errBoom) {
			t.Errorf("Status() = failures %d, last error %v; want 2, boom", st.Failures, st.LastError)
		}
	})
	t.Run("backoff", func(t *testing.T) {
		h := start(t, every10(OnError(BackOff)))
		// Failures 1, 2, 3 then a success: gaps of 1, 2, 4 ticks, then 1.
		h.finish(h.call(), 0, errBoom)
		for _, due := range []time.Duration{10, 30, 70} {
			h.expectTimer(t0.Add(due * sec))
			h.fire(t0.Add(due * sec))
			var err error
			if due != 70 {
				err = errBoom
			}
			h.finish(h.call(), 0, err)
		}
		h.expectTimer(t0.Add(80 * sec))
		if got := h.metrics(); got.skipped["backoff"] != 4 || got.failures["error"] != 3 {
			t.Errorf("metrics skipped[backoff] = %d, failures[error] = %d; want 4, 3", got.skipped["backoff"], got.failures["error"])
		}
	})
	t.Run("stop", func(t *testing.T) {
		h := start(t, every10(OnError(Stop)))
		h.finish(h.call(), 0, errBoom)
		err := h.result()
		if !errors.Is(err, errBoom) || !strings.HasPrefix(err.Error(), `tick: job "job": `) {
			t.Errorf("Run() = %v; want tick: job \"job\": boom", err)
		}
	})
}

func TestPanicBecomesError(t *testing.T) {
	h := start(t, every10())
	inv := h.call()
	big := strings.Repeat("x", 1<<20)
	inv.reply <- func() error { panic(big) }
	h.expectTimer(t0.Add(10 * sec)) // the job goes on
	var pe *PanicError
	st := h.job.Status()
	if !errors.As(st.LastError, &pe) || pe.Job != "job" || len(pe.Stack) == 0 {
		t.Fatalf("Status().LastError = %#v; want a *PanicError with a stack", st.LastError)
	}
	if msg := pe.Error(); len(msg) > 2048 || !strings.HasPrefix(msg, `tick: job "job" panicked: xxx`) {
		t.Errorf("PanicError.Error() = %.60q (len %d); want a bounded one-line message", msg, len(msg))
	}
	if got := h.metrics(); got.failures["panic"] != 1 {
		t.Errorf("metrics failures[panic] = %d; want 1", got.failures["panic"])
	}
	// A panic with an error value unwraps to it; Stop returns the *PanicError.
	h2 := start(t, every10(OnError(Stop)))
	inv = h2.call()
	inv.reply <- func() error { panic(errBoom) }
	if err := h2.result(); !errors.As(err, &pe) || !errors.Is(err, errBoom) {
		t.Errorf("Run() = %v; want a *PanicError wrapping boom", err)
	}
}

func TestCancel(t *testing.T) {
	t.Run("while waiting", func(t *testing.T) {
		h := start(t, every10())
		h.finish(h.call(), 0, nil)
		h.expectTimer(t0.Add(10 * sec))
		h.cancel()
		if err := h.result(); !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v; want context.Canceled", err)
		}
		if st := h.job.Status(); st.Running || !st.Next.IsZero() {
			t.Errorf("Status() after Run = running %v, next %v; want false, zero", st.Running, st.Next)
		}
	})
	t.Run("during a run", func(t *testing.T) {
		h := start(t, every10())
		inv := h.call()
		h.cancel()
		<-inv.ctx.Done() // the run sees the cancellation; fn returns ctx.Err()
		if err := h.result(); !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v; want context.Canceled", err)
		}
		if st := h.job.Status(); st.Failures != 0 || st.Runs != 1 {
			t.Errorf("Status() = failures %d, runs %d; want 0, 1 (shutdown is not a failure)", st.Failures, st.Runs)
		}
		if got := h.metrics(); got.outcomes["canceled"] != 1 {
			t.Errorf("duration count[canceled] = %d; want 1", got.outcomes["canceled"])
		}
	})
	t.Run("run waits for fn", func(t *testing.T) {
		entered, release := make(chan context.Context), make(chan struct{})
		h := start(t, func(_ func(context.Context) error, mp Option) *Job {
			return Every("job", 10*sec, func(ctx context.Context) error {
				entered <- ctx
				<-release // ignores its context for a while
				return nil
			}, mp)
		})
		ctx := <-entered
		h.cancel()
		<-ctx.Done()
		select {
		case err := <-h.done:
			t.Fatalf("Run returned %v while fn was still running", err)
		default:
		}
		close(release)
		if err := h.result(); !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v; want context.Canceled", err)
		}
	})
}

// A panic is a bug even during shutdown: it is still counted as a failure.
func TestPanicDuringShutdown(t *testing.T) {
	entered, release := make(chan context.Context), make(chan struct{})
	h := start(t, func(_ func(context.Context) error, mp Option) *Job {
		return Every("job", 10*sec, func(ctx context.Context) error {
			entered <- ctx
			<-release
			panic("late")
		}, mp)
	})
	<-entered
	h.cancel()
	close(release)
	if err := h.result(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v; want context.Canceled", err)
	}
	if got := h.metrics(); got.failures["panic"] != 1 || got.outcomes["failure"] != 1 {
		t.Errorf("metrics failures[panic] = %d, duration[failure] = %d; want 1, 1", got.failures["panic"], got.outcomes["failure"])
	}
}

func TestTimeout(t *testing.T) {
	h := start(t, every10(Timeout(time.Millisecond)))
	inv := h.call()
	<-inv.ctx.Done() // the real 1ms deadline
	h.expectTimer(t0.Add(10 * sec))
	st := h.job.Status()
	if !errors.Is(st.LastError, ErrTimeout) || !errors.Is(st.LastError, context.DeadlineExceeded) {
		t.Errorf("Status().LastError = %v; want ErrTimeout", st.LastError)
	}
	if msg := st.LastError.Error(); msg != `tick: job "job": tick: run timed out: context deadline exceeded` {
		t.Errorf("Status().LastError = %q", msg)
	}
	if got := h.metrics(); got.failures["timeout"] != 1 {
		t.Errorf("metrics failures[timeout] = %d; want 1", got.failures["timeout"])
	}
}

func TestRunTwice(t *testing.T) {
	h := start(t, every10())
	inv := h.call()
	if err := h.job.Run(context.Background()); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run() = %v; want ErrAlreadyRunning", err)
	}
	h.finish(inv, 0, nil)
	h.expectTimer(t0.Add(10 * sec))
}

func TestCheck(t *testing.T) {
	var j *Job
	h := start(t, func(fn func(context.Context) error, mp Option) *Job {
		j = Every("job", 10*sec, fn, mp)
		return j
	})
	check := j.Check(2)
	ctx := context.Background()
	inv := h.call()
	h.ft.clk.Set(t0.Add(20 * sec)) // no success yet, 2 intervals since start
	if err := check(ctx); err != nil {
		t.Errorf("check at start+20s, no success yet = %v; want nil", err)
	}
	h.ft.clk.Set(t0.Add(20*sec + 1))
	if err := check(ctx); !errors.Is(err, ErrStale) {
		t.Errorf("check at start+20s+1ns, no success yet = %v; want ErrStale", err)
	}
	h.finish(inv, 0, nil) // success at 20s+1ns
	h.expectTimer(t0.Add(30 * sec))
	if err := check(ctx); err != nil {
		t.Errorf("check after a success = %v; want nil", err)
	}
	h.fire(t0.Add(30 * sec))
	h.finish(h.call(), 0, errBoom)
	h.expectTimer(t0.Add(40 * sec))
	h.fire(t0.Add(40 * sec))
	h.finish(h.call(), 5*sec, errBoom)
	h.expectTimer(t0.Add(50 * sec))
	if err := check(ctx); !errors.Is(err, ErrStale) || !errors.Is(err, errBoom) {
		t.Errorf("check 25s after the last success = %v; want ErrStale wrapping boom", err)
	}
	h.cancel()
	h.result()
	if err := check(ctx); !errors.Is(err, ErrNotRunning) {
		t.Errorf("check after Run returned = %v; want ErrNotRunning", err)
	}
}

func TestCheckCron(t *testing.T) {
	var j *Job
	h := start(t, func(fn func(context.Context) error, mp Option) *Job {
		j, _ = Cron("cron", "CRON_TZ=UTC 0 * * * *", fn, mp)
		return j
	})
	first := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	h.expectTimer(first)
	check := j.Check(1)
	h.ft.clk.Set(first) // the first activation after start is the limit
	if err := check(context.Background()); err != nil {
		t.Errorf("check at the first activation = %v; want nil", err)
	}
	h.ft.clk.Set(first.Add(1))
	if err := check(context.Background()); !errors.Is(err, ErrStale) {
		t.Errorf("check past the first activation = %v; want ErrStale", err)
	}
}

func TestAgeGauge(t *testing.T) {
	h := start(t, every10())
	h.finish(h.call(), 2*sec, nil)
	h.expectTimer(t0.Add(10 * sec))
	h.ft.clk.Set(t0.Add(9 * sec))
	if got := h.metrics(); got.age != 7 {
		t.Errorf("chassis.tick.last_success.age = %v; want 7", got.age)
	}
	if got := h.metrics(); got.durations != 1 || got.outcomes["success"] != 1 {
		t.Errorf("duration count = %d (success %d); want 1, 1", got.durations, got.outcomes["success"])
	}
}
