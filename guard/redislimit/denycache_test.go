package redislimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/guard/redislimit"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

// TestDenyCacheHotKey sends 10,000 requests at one key at 10× its rate and
// counts the Redis calls the deny cache saves. Its answers must stay those of
// guard.MemoryLimiter: honest Remaining, RetryAfter and ResetAfter.
func TestDenyCacheHotKey(t *testing.T) {
	mr, c := newMini(t)
	calls := countScripts(c)
	clock := fakeclock.New(start)
	mr.SetTime(start)
	mp, reader := meter(t)
	l := guard.Limit{Rate: 10, Per: time.Second} // one every 100ms, bursts of 10
	lim := redislimit.New(c, l, patient, redislimit.WithClock(clock.Now), redislimit.WithMeterProvider(mp))
	mem := guard.NewMemoryLimiter(l, guard.WithClock(clock.Now))
	ctx := context.Background()
	const requests = 10_000
	admitted := 0
	for i := range requests {
		got, err := lim.Allow(ctx, "hot")
		want, _ := mem.Allow(ctx, "hot")
		if err != nil || got != want {
			t.Fatalf("request %d: Allow = %+v, %v; want %+v (MemoryLimiter)", i, got, err, want)
		}
		if got.Allowed {
			admitted++
		}
		clock.Advance(10 * time.Millisecond) // 100/s: 10× the rate
		mr.SetTime(clock.Now())
	}
	// The first call also sent EVAL after EVALSHA's NOSCRIPT.
	redisCalls := calls.evalsha.Load()
	hits := counters(t, reader)["chassis.redislimit.deny_cache.hits"]
	t.Logf("%d requests at 10× the rate: %d admitted, %d Redis calls, %d answered by the deny cache (%.1f%% of calls saved)",
		requests, admitted, redisCalls, hits, 100*float64(hits)/requests)
	if redisCalls+hits != requests {
		t.Errorf("Redis calls %d + deny cache hits %d = %d; want %d", redisCalls, hits, redisCalls+hits, requests)
	}
	// Each admission costs one call and each RetryAfter one denied call:
	// about 2 calls per 100ms, against 10 requests.
	if maxCalls := int64(2*admitted + 10); redisCalls > maxCalls {
		t.Errorf("Redis calls = %d; want at most %d (two per admission)", redisCalls, maxCalls)
	}
}

// TestDenyCacheOff checks that without the cache every denial asks Redis.
func TestDenyCacheOff(t *testing.T) {
	mr, c := newMini(t)
	calls := countScripts(c)
	mr.SetTime(start)
	lim := redislimit.New(c, guard.Limit{Rate: 1, Per: time.Hour}, patient, redislimit.WithDenyCache(false))
	for range 5 {
		lim.Allow(context.Background(), "k")
	}
	if n := calls.evalsha.Load(); n != 5 {
		t.Errorf("EVALSHA calls for 5 requests without the deny cache = %d; want 5", n)
	}
}

// TestDenyCacheExpiry checks that a cached denial counts down on the local
// clock and gives way to Redis when RetryAfter has passed.
func TestDenyCacheExpiry(t *testing.T) {
	mr, c := newMini(t)
	calls := countScripts(c)
	clock := fakeclock.New(start)
	mr.SetTime(start)
	lim := redislimit.New(c, guard.Limit{Rate: 1, Per: time.Minute, Burst: 2}, patient, redislimit.WithClock(clock.Now))
	ctx := context.Background()
	step := func(name string, want guard.Decision, wantCalls int64) {
		t.Helper()
		mr.SetTime(clock.Now())
		want.Limit = guard.Limit{Rate: 1, Per: time.Minute, Burst: 2}
		if d, err := lim.Allow(ctx, "k"); err != nil || d != want {
			t.Errorf("%s: Allow = %+v, %v; want %+v", name, d, err, want)
		}
		if n := calls.evalsha.Load(); n != wantCalls {
			t.Errorf("%s: EVALSHA calls = %d; want %d", name, n, wantCalls)
		}
	}
	step("admitted", guard.Decision{Allowed: true, Remaining: 1, ResetAfter: time.Minute}, 1)
	step("admitted", guard.Decision{Allowed: true, ResetAfter: 2 * time.Minute}, 2)
	step("denied by Redis", guard.Decision{RetryAfter: time.Minute, ResetAfter: 2 * time.Minute}, 3)
	clock.Advance(20 * time.Second)
	step("denied from the cache", guard.Decision{RetryAfter: 40 * time.Second, ResetAfter: 100 * time.Second}, 3)
	clock.Advance(40*time.Second - time.Microsecond)
	step("denied from the cache", guard.Decision{RetryAfter: time.Microsecond, ResetAfter: 60*time.Second + time.Microsecond}, 3)
	clock.Advance(time.Microsecond)
	step("admitted by Redis", guard.Decision{Allowed: true, ResetAfter: 2 * time.Minute}, 4)
	// A clock that steps back does not make a cached denial last longer.
	step("denied by Redis", guard.Decision{RetryAfter: time.Minute, ResetAfter: 2 * time.Minute}, 5)
	clock.Advance(-time.Second)
	mr.SetTime(clock.Now().Add(time.Second)) // Redis time does not step back
	if d, err := lim.Allow(ctx, "k"); err != nil || d.Allowed || d.RetryAfter != time.Minute {
		t.Errorf("after a local step back: Allow = %+v, %v; want Redis's denial, RetryAfter 1m", d, err)
	}
	if n := calls.evalsha.Load(); n != 6 {
		t.Errorf("after a local step back: EVALSHA calls = %d; want 6", n)
	}
}
