package redislock_test

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/tick/internal/locktest"

	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/tick"
	"github.com/chassis-go/chassis/tick/redislock"
)

func newLocker(b *backend, c redis.UniversalClient) *redislock.Locker {
	return redislock.New(c, redislock.WithPrefix(b.Prefix), redislock.WithTTL(b.ttl))
}

// waitLost waits for the lease to report it was lost.
func waitLost(t *testing.T, ls tick.Lease) {
	t.Helper()
	select {
	case <-ls.Lost():
	case <-time.After(guard):
		t.Fatal("lease not reported lost")
	}
}

func TestAcquireRelease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		c := b.client(t)
		a, bb := newLocker(b, c), newLocker(b, b.client(t))
		la, err := a.Acquire(ctx, "job")
		if err != nil {
			t.Fatalf("A.Acquire() error = %v", err)
		}
		if la.Token() != 1 {
			t.Errorf("first lease Token() = %d; want 1", la.Token())
		}
		if _, err := bb.Acquire(ctx, "job"); !errors.Is(err, tick.ErrLocked) {
			t.Errorf("B.Acquire() while A holds = %v; want ErrLocked", err)
		}
		lease, fence := a.Keys("job")
		if lease != b.Prefix+"{job}:lease" || fence != b.Prefix+"{job}:fence" {
			t.Errorf("Keys(job) = %q, %q", lease, fence)
		}
		if v := c.Get(ctx, lease).Val(); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(v) {
			t.Errorf("GET %s = %q; want a 128-bit hex token", lease, v)
		}
		if pttl := c.PTTL(ctx, lease).Val(); pttl <= 0 || pttl > b.ttl {
			t.Errorf("PTTL %s = %v; want in (0, %v]", lease, pttl, b.ttl)
		}
		if err := la.Release(ctx); err != nil {
			t.Fatalf("Release() = %v", err)
		}
		if n := c.Exists(ctx, lease).Val(); n != 0 {
			t.Errorf("lease key exists after Release")
		}
		lb, err := bb.Acquire(ctx, "job")
		if err != nil {
			t.Fatalf("B.Acquire() after A's Release = %v", err)
		}
		defer lb.Release(ctx)
		if lb.Token() != 2 {
			t.Errorf("second lease Token() = %d; want 2", lb.Token())
		}
		// Another job's lease is independent.
		lo, err := a.Acquire(ctx, "other-job")
		if err != nil {
			t.Fatalf("Acquire(other-job) = %v", err)
		}
		if err := lo.Release(ctx); err != nil {
			t.Errorf("Release(other-job) = %v", err)
		}
	})
}

// A holder whose lease expired and passed to another cannot renew it or
// delete it: it learns it lost the lease, and its Release leaves the new
// holder's key alone.
func TestOnlyOwnerReleases(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		c := b.client(t)
		a, bb := newLocker(b, c), newLocker(b, b.client(t))
		la, err := a.Acquire(ctx, "job")
		if err != nil {
			t.Fatalf("A.Acquire() = %v", err)
		}
		lease, _ := a.Keys("job")
		c.Del(ctx, lease) // as if it expired while A was paused
		lb, err := bb.Acquire(ctx, "job")
		if err != nil {
			t.Fatalf("B.Acquire() = %v", err)
		}
		waitLost(t, la) // A's next renewal finds B's token
		if err := la.Release(ctx); err != nil {
			t.Errorf("A.Release() = %v; want nil", err)
		}
		if n := c.Exists(ctx, lease).Val(); n != 1 {
			t.Fatal("A's Release deleted B's lease")
		}
		if err := lb.Release(ctx); err != nil {
			t.Errorf("B.Release() = %v", err)
		}
		select {
		case <-lb.Lost():
			t.Error("Release closed Lost; want it left open")
		default:
		}
	})
}

// The holder keeps the lease past its TTL by renewing it.
func TestRenewal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		c := b.client(t)
		l := newLocker(b, c)
		ls, err := l.Acquire(ctx, "job")
		if err != nil {
			t.Fatalf("Acquire() = %v", err)
		}
		defer ls.Release(ctx)
		lease, _ := l.Keys("job")
		pttl := func() time.Duration { return c.PTTL(ctx, lease).Val() }
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		deadline := time.Now().Add(guard)
		// Watch the lease's remaining time for four renewals (a jump up),
		// over which more than a whole TTL passes: on the real Redis by
		// itself, on miniredis by moving its clock half a TTL before and
		// after each renewal.
		if b.Mini != nil {
			b.Mini.FastForward(b.ttl / 2)
		}
		prev := pttl()
		for renewals := 0; renewals < 4; {
			if time.Now().After(deadline) {
				t.Fatalf("%d renewals seen; want 4", renewals)
			}
			<-tk.C
			cur := pttl()
			if cur <= 0 {
				t.Fatalf("lease expired after %d renewals", renewals)
			}
			if cur > prev {
				renewals++
				if b.Mini != nil {
					b.Mini.FastForward(b.ttl / 2)
					cur = pttl()
				}
			}
			prev = cur
		}
		select {
		case <-ls.Lost():
			t.Fatal("lease lost while Redis was fine")
		default:
		}
	})
}

// A replica that dies mid-run keeps the job locked until the TTL passes;
// then another replica takes over with a larger fencing token.
func TestDeadHolderTakeover(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		ca := b.client(t)
		a, bb := newLocker(b, ca), newLocker(b, b.client(t))
		la, err := a.Acquire(ctx, "job")
		if err != nil {
			t.Fatalf("A.Acquire() = %v", err)
		}
		_ = ca.Close() // A is gone: no renewal, no release
		if _, err := bb.Acquire(ctx, "job"); !errors.Is(err, tick.ErrLocked) {
			t.Errorf("B.Acquire() before the TTL = %v; want ErrLocked", err)
		}
		lease, _ := a.Keys("job")
		b.expire(t, lease)
		lb, err := bb.Acquire(ctx, "job")
		if err != nil {
			t.Fatalf("B.Acquire() after the TTL = %v", err)
		}
		if lb.Token() <= la.Token() {
			t.Errorf("B's Token() = %d; want more than A's %d", lb.Token(), la.Token())
		}
		if err := lb.Release(ctx); err != nil {
			t.Errorf("B.Release() = %v", err)
		}
		waitLost(t, la)
		if err := la.Release(ctx); err == nil {
			t.Error("A.Release() with a closed client = nil; want an error")
		}
	})
}

// Losing Redis cancels the run in progress at once, with ErrLeaseLost.
func TestFaultCancelsRun(t *testing.T) {
	faults := []struct {
		name string
		// setup returns the client the holder uses and the fault to inject.
		setup func(t *testing.T, b *backend) (redis.UniversalClient, func())
	}{
		{"client closed", func(t *testing.T, b *backend) (redis.UniversalClient, func()) {
			c := b.client(t)
			return c, func() { _ = c.Close() }
		}},
		{"network cut", func(t *testing.T, b *backend) (redis.UniversalClient, func()) {
			return b.CutClient(t, func(o *redis.UniversalOptions) { o.MaxRetries = -1 })
		}},
	}
	for _, fc := range faults {
		t.Run(fc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, b *backend) {
				c, fault := fc.setup(t, b)
				failed := make(chan slog.Record, 1)
				entered := make(chan context.Context)
				job := tick.Every("job", time.Hour, func(ctx context.Context) error {
					entered <- ctx
					<-ctx.Done()
					return ctx.Err()
				}, tick.WithLock(newLocker(b, c)), tick.WithLogger(slog.New(locktest.RecordHandler(failed))))
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- job.Run(ctx) }()
				runCtx := <-entered
				fault()
				select {
				case <-runCtx.Done():
				case <-time.After(guard):
					t.Fatal("run not cancelled after the fault")
				}
				if cause := context.Cause(runCtx); cause != tick.ErrLeaseLost {
					t.Errorf("context.Cause(run) = %v; want ErrLeaseLost", cause)
				}
				select { // the job logs the failed run before the test stops it
				case r := <-failed:
					if r.Message != "tick: run failed" {
						t.Errorf("logged %q; want tick: run failed", r.Message)
					}
				case <-time.After(guard):
					t.Fatal("failed run not logged")
				}
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Errorf("Run() = %v; want context.Canceled", err)
				}
				if st := job.Status(); !errors.Is(st.LastError, tick.ErrLeaseLost) {
					t.Errorf("Status().LastError = %v; want ErrLeaseLost", st.LastError)
				}
			})
		})
	}
}

// Two replicas of a job never run at the same time, and the fencing
// tokens increase run after run.
func TestTwoReplicasNeverOverlap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		locktest.NeverOverlap(t, "job", func() tick.Locker { return newLocker(b, b.client(t)) })
	})
}

func TestAcquireErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := b.client(t)
		l := newLocker(b, c)
		if _, err := l.Acquire(context.Background(), "a{b}"); err == nil || errors.Is(err, tick.ErrLocked) {
			t.Errorf("Acquire(a{b}) = %v; want an error other than ErrLocked", err)
		}
		_ = c.Close()
		if _, err := l.Acquire(context.Background(), "job"); err == nil || errors.Is(err, tick.ErrLocked) {
			t.Errorf("Acquire() with a closed client = %v; want an error other than ErrLocked", err)
		}
	})
}

// TestNilOptions shows the option rules: a nil Option is ignored and a zero
// TTL means the default.
func TestNilOptions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := b.client(t)
		l := redislock.New(c, nil, redislock.WithTTL(0), redislock.WithPrefix(b.Prefix))
		ls, err := l.Acquire(context.Background(), "job")
		if err != nil {
			t.Fatalf("Acquire() = %v", err)
		}
		defer ls.Release(context.Background())
		lease, _ := l.Keys("job")
		if pttl := c.PTTL(context.Background(), lease).Val(); pttl <= redislock.DefaultTTL-time.Second || pttl > redislock.DefaultTTL {
			t.Errorf("PTTL = %v; want about DefaultTTL (%v)", pttl, redislock.DefaultTTL)
		}
	})
}

func TestNewPanics(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"nil client", func() { redislock.New(nil) }, "redislock.New: client is nil"},
		{"nil typed client", func() { redislock.New((*redis.Client)(nil)) }, "redislock.New: client is nil"},
		{"short ttl", func() { redislock.New(c, redislock.WithTTL(10*time.Millisecond)) }, "redislock.New: TTL is 10ms"},
		{"negative ttl", func() { redislock.New(c, redislock.WithTTL(-time.Second)) }, "redislock.New: TTL is -1s"},
		{"brace in prefix", func() { redislock.New(c, redislock.WithPrefix("a{")) }, `redislock.New: prefix "a{" contains a brace`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, tc.want) || !strings.Contains(msg, "; ") {
					t.Errorf("panic = %q; want prefix %q and a fix", msg, tc.want)
				}
			}()
			tc.f()
		})
	}
}
