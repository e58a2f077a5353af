package redislimit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/guard/redislimit"
	"github.com/chassis-go/chassis/internal/redistest"
)

// Each decision is one script over one key whose hash tag is the user key
// (or its SHA-256), so no call can be CROSSSLOT, and the keys of different
// clients spread across every master.
func TestClusterSlots(t *testing.T) {
	b := redistest.Cluster(t)
	ctx := context.Background()
	lim := redislimit.New(b.Client, guard.PerMinute(10), patient, redislimit.WithPrefix(b.Prefix))
	for i := range 100 {
		if d, err := lim.Allow(ctx, fmt.Sprintf("client-%d", i)); err != nil || !d.Allowed {
			t.Fatalf("Allow(client-%d) = %+v, %v; want allowed", i, d, err)
		}
	}
	redistest.AssertSpread(t, b.Client, b.Prefix+"*")
}

// TestFailover stops the master holding the limited keys, on a private
// cluster, while three limiters (one per degraded mode) decide: each answers
// in its declared mode within its timeout, the failures and degraded
// decisions are counted, and once the master is back decisions reach Redis
// again (its keys reappear: the restarted master kept nothing).
func TestFailover(t *testing.T) {
	pc := redistest.StartCluster(t)
	b := pc.Backend(t) // the client's default options, as a service has them
	ctx := context.Background()
	const timeout = 200 * time.Millisecond
	limit := guard.Limit{Rate: 1000, Per: time.Hour}
	normalized := guard.Limit{Rate: 1000, Per: time.Hour, Burst: 1000}

	type limiter struct {
		mode  redislimit.DegradedMode
		attr  string
		key   string
		lim   *redislimit.Limiter
		count func() map[string]int64
		// degraded checks a decision made without Redis.
		degraded func(d guard.Decision, err error) bool
	}
	lims := []*limiter{
		{mode: redislimit.FailClosed, attr: "closed", degraded: func(d guard.Decision, err error) bool {
			return errors.Is(err, redislimit.ErrUnavailable) && d == guard.Decision{}
		}},
		{mode: redislimit.FailOpen, attr: "open", degraded: func(d guard.Decision, err error) bool {
			return err == nil && d == guard.Decision{Allowed: true}
		}},
		{mode: redislimit.FailLocal, attr: "local", degraded: func(d guard.Decision, err error) bool {
			return err == nil && d.Allowed && d.Limit == normalized
		}},
	}
	// The limiters' keys are all on one master (their hash tags differ).
	master := -1
	for i, l := range lims {
		mp, reader := meter(t)
		l.count = func() map[string]int64 { return counters(t, reader) }
		l.lim = redislimit.New(b.Client, limit, redislimit.WithPrefix(b.Prefix), redislimit.WithTimeout(timeout),
			redislimit.WithDegraded(l.mode), redislimit.WithMeterProvider(mp))
		for j := 0; l.key == ""; j++ {
			k := fmt.Sprintf("client-%d-%d", i, j)
			if m := pc.MasterOf(t, l.lim.RedisKey(k)); master < 0 || m == master {
				l.key, master = k, m
			}
		}
		if d, err := l.lim.Allow(ctx, l.key); err != nil || !d.Allowed || d.Limit != normalized {
			t.Fatalf("%v: Allow before the failure = %+v, %v; want allowed by Redis", l.mode, d, err)
		}
	}

	stopped := time.Now()
	pc.Stop(t, master)
	const calls = 8 // past DefaultCooldownFailures, so the circuit opens
	var firstDegraded time.Duration
	var slowest time.Duration
	decide := func(when string) {
		t.Helper()
		for _, l := range lims {
			for i := range calls / 2 {
				begin := time.Now()
				d, err := l.lim.Allow(ctx, l.key)
				elapsed := time.Since(begin)
				slowest = max(slowest, elapsed)
				if elapsed > timeout+time.Second {
					t.Errorf("%v: Allow #%d %s took %v; want at most the timeout (%v) and scheduling", l.mode, i, when, elapsed, timeout)
				}
				if !l.degraded(d, err) {
					t.Errorf("%v: Allow #%d %s = %+v, %v; want the degraded answer", l.mode, i, when, d, err)
				}
				if firstDegraded == 0 {
					firstDegraded = time.Since(stopped)
				}
			}
		}
	}
	decide("with the master down")
	pc.WaitState(t, "fail", 10*time.Second)
	decide("with the cluster down")
	for _, l := range lims {
		got := l.count()
		if n := got["chassis.redislimit.degraded{chassis.degraded_mode="+l.attr+"}"]; n != calls {
			t.Errorf("%v: chassis.redislimit.degraded = %d; want %d (all: %v)", l.mode, n, calls, got)
		}
		var errs int64
		for _, class := range []string{"timeout", "connection", "script", "other"} {
			errs += got["chassis.redislimit.errors{error.type="+class+"}"]
		}
		if errs < redislimit.DefaultCooldownFailures || errs > calls {
			t.Errorf("%v: chassis.redislimit.errors = %d; want between %d (the circuit opens) and %d (all: %v)",
				l.mode, errs, redislimit.DefaultCooldownFailures, calls, got)
		}
	}

	restarted := time.Now()
	pc.Start(t, master)
	healed := time.Since(restarted)
	var recovered time.Duration
	for _, l := range lims {
		err := redistest.Poll(10*time.Second, func() (bool, error) {
			d, err := l.lim.Allow(ctx, l.key)
			if err != nil || !d.Allowed || d.Limit != normalized {
				return false, fmt.Errorf("Allow = %+v, %v", d, err)
			}
			n, err := b.Client.Exists(ctx, l.lim.RedisKey(l.key)).Result()
			return n == 1, err
		})
		if err != nil {
			t.Errorf("%v: no decision reached Redis after the master returned: %v", l.mode, err)
		}
		recovered = max(recovered, time.Since(restarted))
	}
	t.Logf("first degraded answer %v after the master stopped, slowest Allow %v (timeout %v); cluster ok %v after it restarted, decisions in Redis again after %v",
		firstDegraded, slowest, timeout, healed, recovered)
}
