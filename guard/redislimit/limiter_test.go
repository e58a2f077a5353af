package redislimit_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/guard/redislimit"
	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/internal/redistest"
)

func TestNewPanics(t *testing.T) {
	_, client := newMini(t)
	ok := guard.PerSecond(10)
	tests := []struct {
		name   string
		client redis.UniversalClient
		limit  guard.Limit
		opts   []redislimit.Option
		want   string
	}{
		{"nil client", nil, ok, nil, "redislimit.New: client is nil"},
		{"nil *redis.Client", (*redis.Client)(nil), ok, nil, "redislimit.New: client is nil"},
		{"zero rate", client, guard.Limit{Per: time.Second}, nil, "redislimit.New: Limit.Rate must be > 0, got 0"},
		{"zero per", client, guard.Limit{Rate: 1}, nil, "redislimit.New: Limit.Per must be > 0"},
		{"negative burst", client, guard.Limit{Rate: 1, Per: time.Second, Burst: -1}, nil, "redislimit.New: Limit.Burst must be >= 0"},
		{"window beyond 2^52µs", client, guard.Limit{Rate: 1, Per: time.Nanosecond, Burst: 1 << 53}, nil, "redislimit.New: Limit.Burst*Per/Rate must be at most 2^52µs"},
		{"prefix with brace", client, ok, []redislimit.Option{redislimit.WithPrefix("a{b")}, "redislimit.New: WithPrefix(\"a{b\") contains a brace"},
		{"zero timeout", client, ok, []redislimit.Option{redislimit.WithTimeout(0)}, "redislimit.New: WithTimeout must be > 0, got 0s"},
		{"zero failures", client, ok, []redislimit.Option{redislimit.WithCooldown(0, time.Second)}, "redislimit.New: WithCooldown failures must be >= 1, got 0"},
		{"zero cooldown", client, ok, []redislimit.Option{redislimit.WithCooldown(1, 0)}, "redislimit.New: WithCooldown duration must be > 0, got 0s"},
		{"unknown mode", client, ok, []redislimit.Option{redislimit.WithDegraded(7)}, "redislimit.New: WithDegraded(DegradedMode(7)) is not a mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.HasPrefix(msg, tc.want) {
					t.Errorf("New(%v) panicked with %q; want prefix %q", tc.limit, r, tc.want)
				}
			}()
			redislimit.New(tc.client, tc.limit, tc.opts...)
		})
	}
}

func TestAllow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c redis.UniversalClient, prefix string) {
		ctx := context.Background()
		// 100/hour, bursts of 3: T = 36s, so the test's own duration adds
		// nothing.
		l := guard.Limit{Rate: 100, Per: time.Hour, Burst: 3}
		lim := redislimit.New(c, l, patient, redislimit.WithPrefix(prefix))
		if got := lim.Limit(); got != l {
			t.Errorf("Limit() = %+v; want %+v", got, l)
		}
		if got := lim.Kind(); got != "redis" {
			t.Errorf("Kind() = %q; want redis", got)
		}
		const interval = 36 * time.Second
		for i, want := range []int{2, 1, 0} {
			d, err := lim.Allow(ctx, "alice")
			if err != nil || !d.Allowed || d.Remaining != want || d.RetryAfter != 0 || d.Limit != l {
				t.Fatalf("Allow #%d = %+v, %v; want allowed, Remaining %d", i+1, d, err, want)
			}
			if wantReset := time.Duration(i+1) * interval; d.ResetAfter > wantReset || d.ResetAfter < wantReset-time.Second {
				t.Errorf("Allow #%d ResetAfter = %v; want about %v", i+1, d.ResetAfter, wantReset)
			}
		}
		for i := range 2 { // the second denial comes from the deny cache
			d, err := lim.Allow(ctx, "alice")
			if err != nil || d.Allowed || d.Remaining != 0 {
				t.Fatalf("Allow #%d = %+v, %v; want denied", 4+i, d, err)
			}
			if d.RetryAfter > interval || d.RetryAfter < interval-time.Second {
				t.Errorf("Allow #%d RetryAfter = %v; want about %v", 4+i, d.RetryAfter, interval)
			}
			if d.ResetAfter > 3*interval || d.ResetAfter < 3*interval-time.Second {
				t.Errorf("Allow #%d ResetAfter = %v; want about %v", 4+i, d.ResetAfter, 3*interval)
			}
		}
		// Keys are independent, the empty key included.
		for _, key := range []string{"bob", ""} {
			if d, err := lim.Allow(ctx, key); err != nil || !d.Allowed || d.Remaining != 2 {
				t.Errorf("Allow(%q) = %+v, %v; want allowed, Remaining 2", key, d, err)
			}
		}
	})
}

// TestMatchesMemoryLimiter drives identical sequences through the Redis
// limiter (on miniredis, whose TIME follows SetTime) and guard.MemoryLimiter
// with one fake clock, and requires identical decisions.
func TestMatchesMemoryLimiter(t *testing.T) {
	// miniredis runs each script in a fresh Lua state (about 0.5ms), so the
	// sequences are kept short; the cache-less runs, which call Redis for
	// every step, only for two limits.
	tests := []struct {
		limit     guard.Limit
		denyCache bool
	}{
		{guard.Limit{Rate: 10, Per: time.Second, Burst: 3}, true},    // T = 100ms
		{guard.Limit{Rate: 10, Per: time.Second, Burst: 3}, false},   // same, every step in Redis
		{guard.Limit{Rate: 1000, Per: time.Second, Burst: 20}, true}, // T = 1ms
		{guard.Limit{Rate: 5, Per: time.Minute, Burst: 1}, true},     // T = 12s, no burst
		{guard.Limit{Rate: 1, Per: 7 * time.Microsecond}, true},      // T = 7µs
		{guard.Limit{Rate: 1, Per: 7 * time.Microsecond}, false},     // same, every step in Redis
		{guard.Limit{Rate: 3, Per: 3 * time.Hour, Burst: 50}, true},  // T = 1h, window 50h
	}
	for _, tc := range tests {
		l, denyCache := tc.limit, tc.denyCache
		name := l.Per.String() + "/" + time.Duration(int64(l.Per)/int64(l.Rate)).String()
		if !denyCache {
			name += "/nocache"
		}
		t.Run(name, func(t *testing.T) {
			mr, c := newMini(t)
			clock := fakeclock.New(start)
			mr.SetTime(start)
			red := redislimit.New(c, l, patient, redislimit.WithClock(clock.Now), redislimit.WithDenyCache(denyCache))
			mem := guard.NewMemoryLimiter(l, guard.WithClock(clock.Now))
			interval := int64(l.Per) / int64(l.Rate) / 1000 // µs
			window := interval * int64(max(l.Burst, l.Rate))
			rng := rand.New(rand.NewPCG(uint64(l.Rate), uint64(l.Per)))
			ctx := context.Background()
			allowed, denied := 0, 0
			for i := range 400 {
				var step int64
				switch r := rng.IntN(100); {
				case r < 70: // faster than the rate
					step = rng.Int64N(interval/4 + 1)
				case r < 99: // around the rate
					step = rng.Int64N(interval + 1)
				default: // long pauses, past full replenishment too
					step = rng.Int64N(window*3/2 + 1)
				}
				clock.Advance(time.Duration(step) * time.Microsecond)
				mr.SetTime(clock.Now())
				key := "a" // mostly one key, so that it runs out
				if r := rng.IntN(10); r >= 8 {
					key = []string{"b", "c"}[r-8]
				}
				got, err := red.Allow(ctx, key)
				want, _ := mem.Allow(ctx, key)
				if err != nil || got != want {
					t.Fatalf("step %d: Allow(%q) = %+v, %v; want %+v (MemoryLimiter)", i, key, got, err, want)
				}
				if got.Allowed {
					allowed++
				} else {
					denied++
				}
			}
			if allowed == 0 || denied == 0 {
				t.Errorf("sequence had %d admissions and %d denials; want both", allowed, denied)
			}
		})
	}
}

// TestRoundsIntervalUp checks the microsecond resolution: an interval that
// is not a whole microsecond is rounded up.
func TestRoundsIntervalUp(t *testing.T) {
	mr, c := newMini(t)
	mr.SetTime(start)
	lim := redislimit.New(c, guard.Limit{Rate: 3, Per: time.Second, Burst: 1}, patient, redislimit.WithDenyCache(false))
	ctx := context.Background()
	if d, err := lim.Allow(ctx, "k"); err != nil || !d.Allowed || d.ResetAfter != 333334*time.Microsecond {
		t.Fatalf("Allow #1 = %+v, %v; want allowed, ResetAfter 333.334ms", d, err)
	}
	if d, err := lim.Allow(ctx, "k"); err != nil || d.Allowed || d.RetryAfter != 333334*time.Microsecond {
		t.Fatalf("Allow #2 = %+v, %v; want denied, RetryAfter 333.334ms", d, err)
	}
}

// TestKeyExpiry checks that a key's TTL is the time to full replenishment,
// so that idle keys leave Redis.
func TestKeyExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c redis.UniversalClient, prefix string) {
		ctx := context.Background()
		lim := redislimit.New(c, guard.Limit{Rate: 10, Per: time.Minute, Burst: 4}, patient, redislimit.WithPrefix(prefix))
		var d guard.Decision
		for range 3 {
			var err error
			if d, err = lim.Allow(ctx, "k"); err != nil || !d.Allowed {
				t.Fatalf("Allow = %+v, %v; want allowed", d, err)
			}
		}
		ttl, err := c.PTTL(ctx, lim.RedisKey("k")).Result()
		if err != nil {
			t.Fatalf("PTTL(%s) = %v", lim.RedisKey("k"), err)
		}
		// ResetAfter is about 18s (3 × 6s); PTTL is that rounded up to ms,
		// minus the time since.
		if want := (d.ResetAfter + time.Millisecond - 1).Truncate(time.Millisecond); ttl > want || ttl < want-time.Second {
			t.Errorf("PTTL = %v; want about %v (ResetAfter %v)", ttl, want, d.ResetAfter)
		}
		// Denials do not write.
		lim2 := redislimit.New(c, guard.Limit{Rate: 1, Per: time.Hour, Burst: 1}, patient, redislimit.WithPrefix(prefix+"2:"))
		lim2.Allow(ctx, "k")
		before, _ := c.PTTL(ctx, lim2.RedisKey("k")).Result()
		lim2.Allow(ctx, "k")
		after, _ := c.PTTL(ctx, lim2.RedisKey("k")).Result()
		if after > before || after < time.Hour-time.Minute {
			t.Errorf("PTTL after a denial = %v; want at most %v (unchanged)", after, before)
		}
	})
	t.Run("fifty years", func(t *testing.T) {
		forEachBackend(t, func(t *testing.T, c redis.UniversalClient, prefix string) {
			// Fifty years between events (about the most guard.Limit accepts):
			// T = 1.6e15µs and PX = 1.6e12ms must survive Lua's doubles.
			const halfCentury = 50 * 365 * 24 * time.Hour
			lim := redislimit.New(c, guard.Limit{Rate: 1, Per: halfCentury}, patient, redislimit.WithPrefix(prefix+"long:"))
			ctx := context.Background()
			if d, err := lim.Allow(ctx, "k"); err != nil || !d.Allowed || d.ResetAfter != halfCentury {
				t.Fatalf("Allow = %+v, %v; want allowed, ResetAfter %v", d, err, halfCentury)
			}
			if d, err := lim.Allow(ctx, "k"); err != nil || d.Allowed || d.RetryAfter > halfCentury || d.RetryAfter < halfCentury-time.Minute {
				t.Errorf("Allow #2 = %+v, %v; want denied, RetryAfter about %v", d, err, halfCentury)
			}
			if ttl, err := c.PTTL(ctx, lim.RedisKey("k")).Result(); err != nil || ttl > halfCentury || ttl < halfCentury-time.Minute {
				t.Errorf("PTTL = %v, %v; want about %v", ttl, err, halfCentury)
			}
		})
	})
	t.Run("miniredis expires", func(t *testing.T) {
		mr, c := newMini(t)
		mr.SetTime(start)
		lim := redislimit.New(c, guard.Limit{Rate: 10, Per: time.Minute, Burst: 4}, patient)
		lim.Allow(context.Background(), "k")
		if got := mr.TTL(lim.RedisKey("k")); got != 6*time.Second {
			t.Errorf("TTL = %v; want 6s", got)
		}
		mr.FastForward(6 * time.Second)
		if mr.Exists(lim.RedisKey("k")) {
			t.Errorf("key %s exists after full replenishment; want expired", lim.RedisKey("k"))
		}
	})
}

// TestSharedLimit runs two limiters (two replicas) against one Redis from 8
// goroutines: together they admit no more than the limit.
func TestSharedLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c redis.UniversalClient, prefix string) {
		l := guard.Limit{Rate: 100, Per: time.Hour} // bursts of 100; refills one per 36s
		replicas := []*redislimit.Limiter{
			redislimit.New(c, l, patient, redislimit.WithPrefix(prefix)),
			redislimit.New(c, l, patient, redislimit.WithPrefix(prefix)),
		}
		var mu sync.Mutex
		admitted := 0
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				lim := replicas[g%2]
				n := 0
				for range 40 {
					d, err := lim.Allow(context.Background(), "shared")
					if err != nil {
						t.Errorf("Allow = %v", err)
						return
					}
					if d.Allowed {
						n++
					}
				}
				mu.Lock()
				admitted += n
				mu.Unlock()
			})
		}
		wg.Wait()
		if admitted != 100 {
			t.Errorf("8 goroutines × 40 requests on 2 limiters admitted %d; want 100", admitted)
		}
	})
}

// TestNoScript flushes the script cache between calls: go-redis's
// Script.Run falls back from EVALSHA to EVAL, which caches it again.
// TestNoScript checks that a NOSCRIPT answer to EVALSHA (a Redis that
// restarted, failed over or had its script cache flushed) costs one EVAL,
// after which EVALSHA works again. The NOSCRIPT answers are injected by a
// client hook rather than caused with SCRIPT FLUSH, which would empty the
// script cache of every other suite sharing the real Redis.
func TestNoScript(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c redis.UniversalClient, prefix string) {
		ctx := context.Background()
		calls := countScripts(c) // first, so it also counts the EVALSHA answered by the injection
		noScript := &injectNoScript{}
		c.AddHook(noScript)
		lim := redislimit.New(c, guard.PerMinute(10), patient, redislimit.WithPrefix(prefix))
		check := func(step string, wantRemaining int, wantEvalSHA, wantEval int64) {
			t.Helper()
			d, err := lim.Allow(ctx, "k")
			if err != nil || !d.Allowed || d.Remaining != wantRemaining {
				t.Fatalf("%s: Allow = %+v, %v; want allowed, Remaining %d", step, d, err, wantRemaining)
			}
			if s, e := calls.evalsha.Load(), calls.eval.Load(); s != wantEvalSHA || e != wantEval {
				t.Errorf("%s: EVALSHA, EVAL sent = %d, %d; want %d, %d", step, s, e, wantEvalSHA, wantEval)
			}
		}
		noScript.armed.Store(true)
		check("first call", 9, 1, 1)
		check("cached", 8, 2, 1)
		noScript.armed.Store(true)
		check("after NOSCRIPT", 7, 3, 2)
		check("cached again", 6, 4, 2)
	})
}

// injectNoScript answers the next EVALSHA, once armed, with NOSCRIPT
// without sending it, as a server whose script cache is empty would.
type injectNoScript struct{ armed atomic.Bool }

type noScriptError struct{}

func (noScriptError) Error() string { return "NOSCRIPT No matching script. Please use EVAL." }
func (noScriptError) RedisError()   {}

func (h *injectNoScript) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *injectNoScript) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.EqualFold(cmd.Name(), "evalsha") && h.armed.CompareAndSwap(true, false) {
			cmd.SetErr(noScriptError{})
			return cmd.Err()
		}
		return next(ctx, cmd)
	}
}

func (h *injectNoScript) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestCorruptKey checks that a key holding something else is a script
// error, answered in the degraded mode and counted.
func TestCorruptKey(t *testing.T) {
	tests := []struct {
		name  string
		setup func(mrSet func(k, v string), push func(k, v string), key string)
	}{
		{"non-numeric", func(set, _ func(k, v string), key string) { set(key, "junk") }},
		{"wrong type", func(_, push func(k, v string), key string) { push(key, "x") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mr, c := newMini(t)
			lim := redislimit.New(c, guard.PerMinute(10), patient, redislimit.WithDegraded(redislimit.FailClosed))
			tc.setup(func(k, v string) { mr.Set(k, v) }, func(k, v string) { mr.Lpush(k, v) }, lim.RedisKey("k"))
			d, err := lim.Allow(context.Background(), "k")
			if !errors.Is(err, redislimit.ErrUnavailable) || d != (guard.Decision{}) {
				t.Errorf("Allow = %+v, %v; want zero Decision, ErrUnavailable", d, err)
			}
			var rerr redis.Error
			if !errors.As(err, &rerr) {
				t.Errorf("Allow error %v does not wrap the redis.Error", err)
			}
		})
	}
}

func TestCallerContext(t *testing.T) {
	_, c := newMini(t)
	calls := countScripts(c)
	lim := redislimit.New(c, guard.PerMinute(10), patient, redislimit.WithCooldown(1, time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 3 {
		if d, err := lim.Allow(ctx, "k"); !errors.Is(err, context.Canceled) || d != (guard.Decision{}) {
			t.Fatalf("Allow(canceled ctx) = %+v, %v; want zero Decision, context.Canceled", d, err)
		}
	}
	if n := calls.total(); n != 0 {
		t.Errorf("script calls with a canceled context = %d; want 0", n)
	}
	// A context canceled during the call is not a Redis failure: with a
	// threshold of 1 the circuit would otherwise open.
	ctx2, cancel2 := context.WithCancel(context.Background())
	calls.before = cancel2
	if _, err := lim.Allow(ctx2, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Allow(ctx canceled in flight) = %v; want context.Canceled", err)
	}
	calls.before = nil
	if d, err := lim.Allow(context.Background(), "k"); err != nil || !d.Allowed {
		t.Errorf("Allow after a caller cancellation = %+v, %v; want allowed (circuit still closed)", d, err)
	}
}

// Per CONTRIBUTING.md: a nil option is ignored, and a nil value given to an
// option means its default.
func TestNilOptions(t *testing.T) {
	b := redistest.Mini(t)
	lim := redislimit.New(b.Client, guard.PerMinute(2), nil, patient, redislimit.WithPrefix(b.Prefix),
		redislimit.WithClock(nil), redislimit.WithMeterProvider(nil))
	d, err := lim.Allow(context.Background(), "k")
	if err != nil || !d.Allowed {
		t.Errorf("Allow with nil options = %+v, %v; want allowed", d, err)
	}
}
