package redislimit_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/guard/redislimit"
	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/internal/redistest"
)

// TestRedisDown stops Redis mid-test: each degraded mode does what it says,
// quickly, and the failures are counted.
func TestRedisDown(t *testing.T) {
	l := guard.Limit{Rate: 2, Per: time.Hour}
	tests := []struct {
		mode  redislimit.DegradedMode
		attr  string
		check func(t *testing.T, i int, d guard.Decision, err error)
	}{
		{redislimit.FailClosed, "closed", func(t *testing.T, i int, d guard.Decision, err error) {
			if !errors.Is(err, redislimit.ErrUnavailable) || d != (guard.Decision{}) {
				t.Errorf("Allow #%d = %+v, %v; want zero Decision, ErrUnavailable", i, d, err)
			}
		}},
		{redislimit.FailOpen, "open", func(t *testing.T, i int, d guard.Decision, err error) {
			if err != nil || d != (guard.Decision{Allowed: true}) {
				t.Errorf("Allow #%d = %+v, %v; want Decision{Allowed: true}, nil", i, d, err)
			}
		}},
		{redislimit.FailLocal, "local", func(t *testing.T, i int, d guard.Decision, err error) {
			// A fresh local limiter: 2 admissions, then denials.
			if err != nil || d.Allowed != (i < 2) || d.Limit != (guard.Limit{Rate: 2, Per: time.Hour, Burst: 2}) {
				t.Errorf("Allow #%d = %+v, %v; want Allowed %v from the local limiter", i, d, err, i < 2)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.mode.String(), func(t *testing.T) {
			mr, c := newMini(t, noRetries)
			mp, reader := meter(t)
			// A patient limiter shows Redis working and warms the pool.
			healthy := redislimit.New(c, l, patient)
			if d, err := healthy.Allow(context.Background(), "k"); err != nil || !d.Allowed {
				t.Fatalf("Allow before the outage = %+v, %v; want allowed", d, err)
			}
			lim := redislimit.New(c, l, redislimit.WithTimeout(50*time.Millisecond),
				redislimit.WithDegraded(tc.mode), redislimit.WithCooldown(100, time.Hour),
				redislimit.WithMeterProvider(mp))
			mr.Close()
			const calls = 4
			for i := range calls {
				begin := time.Now()
				d, err := lim.Allow(context.Background(), "k")
				if elapsed := time.Since(begin); elapsed > 2*time.Second {
					t.Errorf("Allow #%d took %v with Redis down; want < 2s", i, elapsed)
				}
				tc.check(t, i, d, err)
			}
			got := counters(t, reader)
			if n := got["chassis.redislimit.degraded{chassis.degraded_mode="+tc.attr+"}"]; n != calls {
				t.Errorf("chassis.redislimit.degraded{%s} = %d; want %d (all: %v)", tc.attr, n, calls, got)
			}
			// go-redis retries refused dials with backoff, so a stopped Redis
			// mostly shows up as a timeout.
			if n := got["chassis.redislimit.errors{error.type=connection}"] + got["chassis.redislimit.errors{error.type=timeout}"]; n != calls {
				t.Errorf("chassis.redislimit.errors{connection or timeout} = %d; want %d (all: %v)", n, calls, got)
			}
		})
	}
}

// TestNetworkCut cuts the network between a replica and Redis, on every
// deployment: the decision is degraded within the timeout, and the failure
// counted.
func TestNetworkCut(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		c, cut := b.CutClient(t, func(o *redis.UniversalOptions) { o.MaxRetries = -1 })
		if d, err := redislimit.New(c, guard.PerMinute(10), patient, redislimit.WithPrefix(b.Prefix)).Allow(context.Background(), "k"); err != nil || !d.Allowed {
			t.Fatalf("Allow before the cut = %+v, %v; want allowed", d, err)
		}
		mp, reader := meter(t)
		const timeout = time.Second
		lim := redislimit.New(c, guard.PerMinute(10), redislimit.WithPrefix(b.Prefix), redislimit.WithTimeout(timeout),
			redislimit.WithDegraded(redislimit.FailClosed), redislimit.WithMeterProvider(mp))
		cut()
		begin := time.Now()
		d, err := lim.Allow(context.Background(), "k")
		if elapsed := time.Since(begin); elapsed > timeout+500*time.Millisecond {
			t.Errorf("Allow took %v after the cut; want at most the timeout (%v) and scheduling", elapsed, timeout)
		}
		if !errors.Is(err, redislimit.ErrUnavailable) || d != (guard.Decision{}) {
			t.Errorf("Allow after the cut = %+v, %v; want zero Decision, ErrUnavailable", d, err)
		}
		got := counters(t, reader)
		if n := got["chassis.redislimit.errors{error.type=connection}"] + got["chassis.redislimit.errors{error.type=timeout}"]; n != 1 {
			t.Errorf("chassis.redislimit.errors{connection or timeout} = %d; want 1 (all: %v)", n, got)
		}
		if n := got["chassis.redislimit.degraded{chassis.degraded_mode=closed}"]; n != 1 {
			t.Errorf("chassis.redislimit.degraded{closed} = %d; want 1 (all: %v)", n, got)
		}
	})
}

// TestCooldown checks that after N consecutive failures no Redis call is
// made until the cooldown has passed, then one probe is, and that a
// successful probe resumes normal operation.
func TestCooldown(t *testing.T) {
	mr, c := newMini(t, noRetries)
	calls := countScripts(c)
	clock := fakeclock.New(start)
	mp, reader := meter(t)
	lim := redislimit.New(c, guard.PerMinute(10), patient, redislimit.WithClock(clock.Now),
		redislimit.WithCooldown(3, 10*time.Second), redislimit.WithDegraded(redislimit.FailOpen),
		redislimit.WithMeterProvider(mp))
	ctx := context.Background()
	allow := func(step string, wantCalls int64, wantLimited bool) {
		t.Helper()
		d, err := lim.Allow(ctx, "k")
		if err != nil || !d.Allowed || (d.Limit != guard.Limit{}) != wantLimited {
			t.Fatalf("%s: Allow = %+v, %v; want allowed, from Redis %v", step, d, err, wantLimited)
		}
		if n := calls.total(); n != wantCalls {
			t.Fatalf("%s: script calls = %d; want %d", step, n, wantCalls)
		}
	}
	allow("healthy", 2, true) // EVALSHA answered NOSCRIPT, then EVAL
	mr.Close()
	allow("failure 1", 3, false)
	allow("failure 2", 4, false)
	allow("failure 3 opens the circuit", 5, false)
	for range 5 {
		allow("cooling down", 5, false)
	}
	clock.Advance(10*time.Second - time.Microsecond)
	allow("just before the end of the cooldown", 5, false)
	clock.Advance(time.Microsecond)
	allow("failed probe", 6, false)
	allow("cooling down again", 6, false)
	clock.Advance(10 * time.Second)
	if err := mr.Restart(); err != nil {
		t.Fatalf("miniredis Restart() = %v", err)
	}
	allow("successful probe", 7, true)
	allow("closed again", 8, true)
	got := counters(t, reader)
	if n := got["chassis.redislimit.degraded{chassis.degraded_mode=open}"]; n != 11 {
		t.Errorf("chassis.redislimit.degraded{open} = %d; want 11 (all: %v)", n, got)
	}
	var errs int64
	for _, class := range []string{"timeout", "connection", "script", "other"} {
		errs += got["chassis.redislimit.errors{error.type="+class+"}"]
	}
	if errs != 4 {
		t.Errorf("chassis.redislimit.errors = %d; want 4 (all: %v)", errs, got)
	}
}

// TestOneProbe checks that while a probe is in flight, other calls stay
// degraded without calling Redis.
func TestOneProbe(t *testing.T) {
	mr, c := newMini(t, noRetries)
	calls := countScripts(c)
	clock := fakeclock.New(start)
	lim := redislimit.New(c, guard.PerMinute(10), patient, redislimit.WithClock(clock.Now),
		redislimit.WithCooldown(1, time.Second), redislimit.WithDegraded(redislimit.FailClosed))
	ctx := context.Background()
	mr.Close()
	if _, err := lim.Allow(ctx, "k"); !errors.Is(err, redislimit.ErrUnavailable) {
		t.Fatalf("Allow with Redis down = %v; want ErrUnavailable", err)
	}
	clock.Advance(time.Second)
	probing, release := make(chan struct{}), make(chan struct{})
	calls.before = func() { close(probing); <-release }
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := lim.Allow(ctx, "k"); !errors.Is(err, redislimit.ErrUnavailable) {
			t.Errorf("probe Allow = %v; want ErrUnavailable", err)
		}
	})
	<-probing
	for _, key := range []string{"k", "other"} {
		if _, err := lim.Allow(ctx, key); !errors.Is(err, redislimit.ErrUnavailable) {
			t.Errorf("Allow(%q) during the probe = %v; want ErrUnavailable", key, err)
		}
	}
	if n := calls.total(); n != 2 {
		t.Errorf("script calls during the probe = %d; want 2 (the failure and the probe)", n)
	}
	close(release)
	wg.Wait()
}

// hungServer accepts connections and never answers.
func hungServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, conn) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// TestHungRedis checks that a Redis that accepts connections but never
// answers costs Allow the timeout, whether or not the client honours
// context deadlines on socket I/O.
func TestHungRedis(t *testing.T) {
	for _, ctxTimeouts := range []bool{true, false} {
		name := "ContextTimeoutEnabled"
		if !ctxTimeouts {
			name = "no ContextTimeoutEnabled"
		}
		t.Run(name, func(t *testing.T) {
			addr := hungServer(t)
			c := redis.NewClient(&redis.Options{
				Addr: addr, ContextTimeoutEnabled: ctxTimeouts, MaxRetries: -1,
				ReadTimeout: time.Minute, WriteTimeout: time.Minute, DialTimeout: time.Minute,
			})
			t.Cleanup(func() { _ = c.Close() }) // runs before hungServer's cleanup
			mp, reader := meter(t)
			lim := redislimit.New(c, guard.PerMinute(10), redislimit.WithTimeout(50*time.Millisecond),
				redislimit.WithDegraded(redislimit.FailOpen), redislimit.WithMeterProvider(mp))
			begin := time.Now()
			d, err := lim.Allow(context.Background(), "k")
			elapsed := time.Since(begin)
			if err != nil || d != (guard.Decision{Allowed: true}) {
				t.Errorf("Allow = %+v, %v; want Decision{Allowed: true}, nil", d, err)
			}
			if elapsed < 50*time.Millisecond || elapsed > 2*time.Second {
				t.Errorf("Allow took %v with a 50ms timeout; want between 50ms and 2s", elapsed)
			}
			if n := counters(t, reader)["chassis.redislimit.errors{error.type=timeout}"]; n != 1 {
				t.Errorf("chassis.redislimit.errors{timeout} = %d; want 1", n)
			}
		})
	}
}

// TestRateLimitMiddleware plugs the limiter into guard.RateLimit.
func TestRateLimitMiddleware(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	get := func(h http.Handler) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://svc/", nil))
		return rec
	}
	t.Run("healthy", func(t *testing.T) {
		_, c := newMini(t)
		mp, reader := meter(t)
		lim := redislimit.New(c, guard.Limit{Rate: 1, Per: time.Hour}, patient)
		h := guard.RateLimit(guard.RateLimitConfig{Limiter: lim, Key: guard.RemoteIP(), MeterProvider: mp})(ok)
		if rec := get(h); rec.Code != http.StatusOK || rec.Header().Get("RateLimit") == "" {
			t.Errorf("first request: status %d, RateLimit %q; want 200 with a RateLimit header", rec.Code, rec.Header().Get("RateLimit"))
		}
		rec := get(h)
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "3600" {
			t.Errorf("second request: status %d, Retry-After %q; want 429, 3600", rec.Code, rec.Header().Get("Retry-After"))
		}
		got := counters(t, reader)
		if n := got["chassis.ratelimit.decisions{chassis.decision=denied}{chassis.limiter=redis}"]; n != 1 {
			t.Errorf("chassis.ratelimit.decisions{denied, redis} = %d; want 1 (all: %v)", n, got)
		}
	})
	t.Run("FailClosed", func(t *testing.T) {
		mr, c := newMini(t, noRetries)
		mr.Close()
		lim := redislimit.New(c, guard.PerMinute(10), patient, redislimit.WithDegraded(redislimit.FailClosed))
		h := guard.RateLimit(guard.RateLimitConfig{Limiter: lim, Key: guard.RemoteIP(), FailClosed: true,
			Logger: discardLogger()})(ok)
		if rec := get(h); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("status with Redis down = %d; want 503", rec.Code)
		}
	})
	t.Run("FailOpen", func(t *testing.T) {
		mr, c := newMini(t, noRetries)
		mr.Close()
		lim := redislimit.New(c, guard.PerMinute(10), patient, redislimit.WithDegraded(redislimit.FailOpen))
		h := guard.RateLimit(guard.RateLimitConfig{Limiter: lim, Key: guard.RemoteIP(), FailClosed: true})(ok)
		if rec := get(h); rec.Code != http.StatusOK || rec.Header().Get("RateLimit") != "" {
			t.Errorf("status with Redis down = %d, RateLimit %q; want 200 without RateLimit headers", rec.Code, rec.Header().Get("RateLimit"))
		}
	})
}
