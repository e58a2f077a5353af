package redislock_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/chassis-go/chassis/internal/redistest"
	"github.com/chassis-go/chassis/tick"
	"github.com/chassis-go/chassis/tick/redislock"
)

// The keys of one lease share a slot, so the acquire script (SET NX PX of
// the lease, INCR of the fencing counter) runs on Redis Cluster without
// CROSSSLOT; the leases of different jobs spread across every master.
func TestClusterSlots(t *testing.T) {
	b := redistest.Cluster(t)
	ctx := context.Background()
	l := redislock.New(b.Client, redislock.WithPrefix(b.Prefix), redislock.WithTTL(2*time.Second))
	lease, fence := l.Keys("job")
	redistest.AssertOneSlot(t, b.Client, lease, fence)
	var leases []tick.Lease
	for i := range 100 {
		ls, err := l.Acquire(ctx, fmt.Sprintf("job-%d", i))
		if err != nil {
			t.Fatalf("Acquire(job-%d) = %v", i, err)
		}
		leases = append(leases, ls)
	}
	redistest.AssertSpread(t, b.Client, b.Prefix+"*:lease")
	redistest.AssertSpread(t, b.Client, b.Prefix+"*:fence")
	for _, ls := range leases {
		if err := ls.Release(ctx); err != nil {
			t.Errorf("Release() = %v", err)
		}
	}
}

// TestFailover stops the master holding a job's lease during a run, on a
// private cluster: the run is cancelled with ErrLeaseLost before the lease's
// TTL could have passed, acquisitions fail with an error (not ErrLocked)
// within their bound, and once the master is back the job takes the lease
// and runs again.
func TestFailover(t *testing.T) {
	pc := redistest.StartCluster(t)
	b := pc.Backend(t) // the client's default options, as a service has them
	const ttl = 2400 * time.Millisecond
	newLocker := func() *redislock.Locker {
		return redislock.New(b.Client, redislock.WithPrefix(b.Prefix), redislock.WithTTL(ttl))
	}
	lease, _ := newLocker().Keys("job")
	m := pc.MasterOf(t, lease)

	entered := make(chan context.Context, 1)
	job := tick.Every("job", 50*time.Millisecond, func(ctx context.Context) error {
		entered <- ctx
		<-ctx.Done()
		return ctx.Err()
	}, tick.WithLock(newLocker()), tick.WithLogger(slog.New(slog.DiscardHandler)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- job.Run(ctx) }()
	waitRun := func(what string) context.Context {
		t.Helper()
		select {
		case rc := <-entered:
			return rc
		case <-time.After(guard):
			t.Fatalf("no run %s", what)
			return nil
		}
	}
	runCtx := waitRun("before the failure")
	first, _ := tick.FencingToken(runCtx)

	stopped := time.Now()
	pc.Stop(t, m)
	select {
	case <-runCtx.Done():
	case <-time.After(guard):
		t.Fatal("run not cancelled after its master stopped")
	}
	lost := time.Since(stopped)
	if cause := context.Cause(runCtx); cause != tick.ErrLeaseLost {
		t.Errorf("context.Cause(run) = %v; want ErrLeaseLost", cause)
	}
	if lost >= ttl {
		t.Errorf("run cancelled %v after the master stopped; want before the TTL (%v)", lost, ttl)
	}

	// Acquisition fails with an error within its bound (TTL/3, plus
	// slack for a loaded machine), both before and after the other masters
	// have marked the stopped one failed.
	acquire := func(when string) {
		t.Helper()
		begin := time.Now()
		ls, err := newLocker().Acquire(context.Background(), "job")
		elapsed := time.Since(begin)
		if err == nil {
			_ = ls.Release(context.Background())
		}
		if err == nil || errors.Is(err, tick.ErrLocked) {
			t.Errorf("Acquire %s = %v; want an error other than ErrLocked", when, err)
		}
		if elapsed > ttl/3+time.Second {
			t.Errorf("Acquire %s took %v; want at most TTL/3 (%v) and scheduling", when, elapsed, ttl/3)
		}
		t.Logf("Acquire %s: %v after %v", when, err, elapsed)
	}
	acquire("with the master down")
	pc.WaitState(t, "fail", 10*time.Second)
	acquire("with the cluster down")

	restarted := time.Now()
	pc.Start(t, m)
	healed := time.Since(restarted)
	runCtx = waitRun("after the master returned")
	again := time.Since(restarted)
	second, _ := tick.FencingToken(runCtx)
	// The restarted master kept nothing (no persistence, no replica): the
	// fencing counter starts over. A deployment that relies on fencing
	// tokens needs AOF or a replica that takes over.
	t.Logf("lease lost %v after the master stopped; cluster ok %v after it restarted, job running again after %v; fencing token %d before, %d after",
		lost, healed, again, first, second)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v; want context.Canceled", err)
	}
}
