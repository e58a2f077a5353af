package tick

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeLocker hands out leases as the test says.
type fakeLocker struct {
	mu       sync.Mutex
	err      error // returned by Acquire when set
	token    int64
	leases   []*fakeLease
	released chan *fakeLease
}

type fakeLease struct {
	token int64
	lost  chan struct{}
	once  sync.Once
	l     *fakeLocker
	ctxOK bool // whether Release got a live context
}

func (l *fakeLocker) Acquire(_ context.Context, name string) (Lease, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	l.token++
	ls := &fakeLease{token: l.token, lost: make(chan struct{}), l: l}
	l.leases = append(l.leases, ls)
	return ls, nil
}

func (l *fakeLocker) set(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
}

func (ls *fakeLease) Token() int64          { return ls.token }
func (ls *fakeLease) Lost() <-chan struct{} { return ls.lost }
func (ls *fakeLease) lose()                 { ls.once.Do(func() { close(ls.lost) }) }
func (ls *fakeLease) Release(ctx context.Context) error {
	ls.ctxOK = ctx.Err() == nil
	ls.l.released <- ls
	return nil
}

func TestWithLock(t *testing.T) {
	l := &fakeLocker{released: make(chan *fakeLease, 8)}
	h := start(t, every10(WithLock(l)))
	check := h.job.Check(1)

	// Held: fn runs with the fencing token in its context; the lease is released.
	inv := h.call()
	if tok, ok := FencingToken(inv.ctx); tok != 1 || !ok {
		t.Errorf("FencingToken(run ctx) = %d, %v; want 1, true", tok, ok)
	}
	h.finish(inv, 0, nil)
	if ls := <-l.released; ls.token != 1 || !ls.ctxOK {
		t.Errorf("released lease %d with live ctx %v; want 1, true", ls.token, ls.ctxOK)
	}

	// Held elsewhere: the tick is skipped, not failed, and the job counts as healthy.
	h.expectTimer(t0.Add(10 * sec))
	l.set(ErrLocked)
	h.fire(t0.Add(10 * sec))
	h.expectTimer(t0.Add(20 * sec))
	h.ft.clk.Set(t0.Add(20 * sec))
	if err := check(context.Background()); err != nil {
		t.Errorf("check with the lease held elsewhere = %v; want nil", err)
	}

	// The lock service fails: a failure of class lock; fn does not run.
	l.set(errBoom)
	h.fire(t0.Add(20 * sec))
	h.expectTimer(t0.Add(30 * sec))
	if st := h.job.Status(); !errors.Is(st.LastError, errBoom) || st.Runs != 1 {
		t.Errorf("Status() = last error %v, runs %d; want boom, 1", st.LastError, st.Runs)
	}

	// Lost mid-run: the run's context is cancelled at once with ErrLeaseLost.
	l.set(nil)
	h.fire(t0.Add(30 * sec))
	inv = h.call()
	l.mu.Lock()
	ls := l.leases[len(l.leases)-1]
	l.mu.Unlock()
	ls.lose()
	<-inv.ctx.Done()
	if cause := context.Cause(inv.ctx); cause != ErrLeaseLost {
		t.Errorf("context.Cause(run ctx) = %v; want ErrLeaseLost", cause)
	}
	if got := <-l.released; got != ls {
		t.Errorf("released lease %d; want %d", got.token, ls.token)
	}
	h.expectTimer(t0.Add(40 * sec))
	if st := h.job.Status(); !errors.Is(st.LastError, ErrLeaseLost) {
		t.Errorf("Status().LastError = %v; want ErrLeaseLost", st.LastError)
	}
	got := h.metrics()
	if got.skipped["locked"] != 1 || got.failures["lock"] != 1 || got.failures["lease_lost"] != 1 || got.runs != 2 {
		t.Errorf("metrics = %+v; want skipped[locked] 1, failures[lock] 1, failures[lease_lost] 1, runs 2", got)
	}
}

// Shutdown during a locked run still releases the lease, with a live context.
func TestWithLockShutdownReleases(t *testing.T) {
	l := &fakeLocker{released: make(chan *fakeLease, 8)}
	h := start(t, every10(WithLock(l)))
	h.call()
	h.cancel()
	select {
	case ls := <-l.released:
		if !ls.ctxOK {
			t.Error("Release got a cancelled context; want a live one")
		}
	case <-time.After(guard):
		t.Fatal("lease not released after shutdown")
	}
	if err := h.result(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v; want context.Canceled", err)
	}
}

// nilLocker is a broken Locker that returns neither a lease nor an error.
type nilLocker struct{}

func (nilLocker) Acquire(context.Context, string) (Lease, error) { return nil, nil }

func TestBrokenLocker(t *testing.T) {
	h := start(t, every10(WithLock(nilLocker{})))
	h.expectTimer(t0.Add(10 * sec)) // fn never ran: the tick failed
	if got := h.metrics(); got.failures["lock"] != 1 || got.runs != 0 {
		t.Errorf("metrics failures[lock] = %d, runs = %d; want 1, 0", got.failures["lock"], got.runs)
	}
}
