package tick

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chassis-go/chassis/internal/fakeclock"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// guard bounds every wait of a test on the job, so that a broken job fails
// the test instead of hanging it. It is never what a test expects to pass.
const guard = 10 * time.Second

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeTime is a clock with timers that fire only when the test moves the
// clock past them. Each timer armed is announced on armed, so a test knows
// the job is waiting and for what.
type fakeTime struct {
	clk   *fakeclock.Clock
	armed chan time.Time

	mu     sync.Mutex
	timers []*fakeTimer
}

type fakeTimer struct {
	f  *fakeTime
	at time.Time
	c  chan time.Time
}

func newFakeTime() *fakeTime {
	return &fakeTime{clk: fakeclock.New(t0), armed: make(chan time.Time, 64)}
}

func (f *fakeTime) newTimer(d time.Duration) timer {
	ft := &fakeTimer{f: f, at: f.clk.Now().Add(d), c: make(chan time.Time, 1)}
	f.mu.Lock()
	f.timers = append(f.timers, ft)
	f.mu.Unlock()
	f.armed <- ft.at
	return ft
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	i := slices.Index(t.f.timers, t)
	if i < 0 {
		return false
	}
	t.f.timers = slices.Delete(t.f.timers, i, i+1)
	return true
}

// set moves the clock to at and fires the timers due by then.
func (f *fakeTime) set(at time.Time) {
	f.clk.Set(at)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.timers = slices.DeleteFunc(f.timers, func(t *fakeTimer) bool {
		if t.at.After(at) {
			return false
		}
		t.c <- at
		return true
	})
}

// invocation is one call of the job's fn, which blocks until the test
// answers it (or its context ends).
type invocation struct {
	ctx   context.Context
	reply chan func() error
}

// harness runs a job on fake time with an fn the test drives.
type harness struct {
	t      *testing.T
	ft     *fakeTime
	job    *Job
	calls  chan invocation
	done   chan error
	cancel context.CancelFunc
	reader *sdkmetric.ManualReader
	logs   *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the job's writes and the test's
// reads at the same time.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start builds the job with build (given the harness's fn and a meter
// provider option) and runs it on its own goroutine. The test must end with
// h.stop or by waiting for h.done.
func start(t *testing.T, build func(fn func(context.Context) error, mp Option) *Job) *harness {
	t.Helper()
	h := &harness{t: t, ft: newFakeTime(), calls: make(chan invocation), done: make(chan error, 1),
		reader: sdkmetric.NewManualReader()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	fn := func(ctx context.Context) error {
		inv := invocation{ctx: ctx, reply: make(chan func() error)}
		select {
		case h.calls <- inv:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case f := <-inv.reply:
			return f()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h.logs = &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(h.logs, nil))
	h.job = build(fn, func(c *config) { c.mp, c.logger = mp, logger })
	h.job.now = h.ft.clk.Now
	h.job.newTimer = h.ft.newTimer
	h.job.randN = func(n int64) int64 { return n / 2 }
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.job.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(guard):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

// call waits for the next invocation of fn.
func (h *harness) call() invocation {
	h.t.Helper()
	select {
	case inv := <-h.calls:
		return inv
	case err := <-h.done:
		h.t.Fatalf("Run returned %v; want a call of fn", err)
	case <-time.After(guard):
		h.t.Fatal("fn was not called")
	}
	return invocation{}
}

// finish makes the invocation take d of fake time, then return err.
func (h *harness) finish(inv invocation, d time.Duration, err error) {
	h.t.Helper()
	select {
	case inv.reply <- func() error { h.ft.clk.Advance(d); return err }:
	case <-time.After(guard):
		h.t.Fatal("fn did not take its reply")
	}
}

// expectTimer waits for the job to arm its timer and checks its deadline.
func (h *harness) expectTimer(want time.Time) {
	h.t.Helper()
	select {
	case at := <-h.ft.armed:
		if !at.Equal(want) {
			h.t.Fatalf("next run armed for %v; want %v", at.Sub(t0), want.Sub(t0))
		}
	case err := <-h.done:
		h.t.Fatalf("Run returned %v; want it to wait for %v", err, want.Sub(t0))
	case <-time.After(guard):
		h.t.Fatalf("no timer armed; want one for %v", want.Sub(t0))
	}
}

// fire moves the clock to at, firing the armed timer.
func (h *harness) fire(at time.Time) { h.ft.set(at) }

// result waits for Run to return.
func (h *harness) result() error {
	h.t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		return err
	case <-time.After(guard):
		h.t.Fatal("Run did not return")
	}
	return nil
}
