package integration_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/chassis-go/chassis/cache"
	"github.com/chassis-go/chassis/cache/rediscache"
	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/flags"
	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/overload"
	"github.com/chassis-go/chassis/tick"
)

// exerciseCache records the cache instruments: hits, a miss, an eviction
// for size, loads and a load error of each class. The observable
// instruments stay registered until the cache is closed, after collection.
func exerciseCache(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	c := cache.New(cache.Config[string, int]{
		Name: "inventory", MaxEntries: 1, TTL: time.Hour, Jitter: -1,
		StaleWhileRevalidate: time.Hour,
		LoadTimeout:          time.Millisecond, // the "timeout" loader waits for it
		Clock:                clock.Now, MeterProvider: mp, Logger: discardLogger(),
	})
	t.Cleanup(c.Close)

	c.Set("a", 1)
	c.Set("b", 2) // evicts a: one entry at most
	if v, ok := c.Get("b"); !ok || v != 2 {
		t.Errorf("cache Get(b) = %d, %t; want 2, true", v, ok)
	}
	if _, ok := c.Get("a"); ok {
		t.Errorf("cache Get(a) found a; want it evicted")
	}
	failing := func(context.Context, string) (int, error) { return 0, errors.New("source down") }
	panicking := func(context.Context, string) (int, error) { panic("loader bug") }
	slow := func(ctx context.Context, _ string) (int, error) { <-ctx.Done(); return 0, ctx.Err() }
	if _, err := c.GetOrLoad(ctx, "c", failing); err == nil {
		t.Errorf("cache GetOrLoad(c) with a failing loader err = nil; want its error")
	}
	var pe *cache.PanicError
	if _, err := c.GetOrLoad(ctx, "d", panicking); !errors.As(err, &pe) {
		t.Errorf("cache GetOrLoad(d) with a panicking loader err = %v; want a *cache.PanicError", err)
	}
	if _, err := c.GetOrLoad(ctx, "e", slow); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cache GetOrLoad(e) past LoadTimeout err = %v; want context.DeadlineExceeded", err)
	}

	// b expires: GetOrLoad serves it stale and refreshes it in the
	// background (Close waits for that load).
	clock.Advance(90 * time.Minute) // past its TTL, within StaleWhileRevalidate
	if v, err := c.GetOrLoad(ctx, "b", func(context.Context, string) (int, error) { return 3, nil }); err != nil || v != 2 {
		t.Errorf("cache GetOrLoad(b) after expiry = %d, %v; want the stale 2", v, err)
	}
	st := c.Stats()
	if st.Evictions < 1 || st.Hits != 1 || st.StaleHits != 1 || st.Misses < 4 || st.LoadErrors != 3 {
		t.Errorf("cache Stats() = %+v; want an eviction, 1 hit, 1 stale hit, at least 4 misses, 3 load errors", st)
	}
}

// exerciseRedisCache records the cache/rediscache instruments with two
// replicas on one miniredis: resyncs when they subscribe, an invalidation
// sent by one and received by the other, a Redis hit and miss, then a
// Redis failure (a lookup error) and the lookup skipped after it.
func exerciseRedisCache(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	// A clock that stands still: after the failure, lookups skip Redis for
	// the rest of the test, not for one real second.
	clock := fakeclock.New(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	cfg := rediscache.Config[int]{
		Local:   cache.Config[string, int]{Name: "shared", TTL: time.Minute, Clock: clock.Now},
		Timeout: patience, Logger: discardLogger(), MeterProvider: mp,
	}
	a := rediscache.New(client, cfg)
	t.Cleanup(a.Close)
	b := rediscache.New(client, cfg)
	t.Cleanup(b.Close)
	eventually(t, "both rediscache replicas to subscribe", func() bool {
		return a.Stats().Resyncs > 0 && b.Stats().Resyncs > 0
	})

	if err := a.Set(ctx, "k", 1); err != nil {
		t.Fatalf("rediscache Set(k) err = %v", err)
	}
	eventually(t, "replica b to receive a's invalidation", func() bool {
		return b.Stats().InvalidationsReceived > 0
	})
	unexpected := func(_ context.Context, key string) (int, error) {
		return 0, errors.New("loader called for " + key)
	}
	if v, err := b.GetOrLoad(ctx, "k", unexpected); err != nil || v != 1 {
		t.Errorf("replica b GetOrLoad(k) = %d, %v; want 1 from Redis", v, err)
	}
	load := func(context.Context, string) (int, error) { return 2, nil }
	if v, err := b.GetOrLoad(ctx, "m", load); err != nil || v != 2 {
		t.Errorf("replica b GetOrLoad(m) = %d, %v; want 2 from the loader", v, err)
	}
	mr.SetError("ERR injected")
	if v, err := b.GetOrLoad(ctx, "n", load); err != nil || v != 2 {
		t.Errorf("replica b GetOrLoad(n) with Redis failing = %d, %v; want 2 from the loader", v, err)
	}
	if v, err := b.GetOrLoad(ctx, "o", load); err != nil || v != 2 {
		t.Errorf("replica b GetOrLoad(o) after a failure = %d, %v; want 2 from the loader", v, err)
	}
	mr.SetError("")
	st := b.Stats()
	if st.RedisHits != 1 || st.RedisMisses != 1 || st.RedisErrors != 1 {
		t.Errorf("replica b Stats() = %+v; want 1 Redis hit, 1 miss, 1 error", st)
	}
}

// exerciseTick records the tick instruments with three jobs:
//
//   - "inventory" takes a scripted lock each tick: held elsewhere (skipped,
//     locked), unreachable (failure lock), then runs that fail (error),
//     panic, lose their lease (lease_lost), succeed, and one cancelled by
//     shutdown (canceled); under BackOff the failures skip ticks (backoff);
//   - "inventory-slow" overruns its Timeout and its 1ms interval (failure
//     timeout, skipped overrun);
//   - "inventory-idle" succeeds once and is still running at collection,
//     so that chassis.tick.last_success.age is observed.
func exerciseTick(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	opts := []tick.Option{tick.WithMeterProvider(mp), tick.WithLogger(discardLogger())}

	locker := &scriptedLocker{}
	canceledRun := make(chan struct{})
	var once sync.Once
	scripted := tick.Every("inventory", time.Millisecond, func(ctx context.Context) error {
		switch locker.step.Load() { // 1 and 2 never run fn
		case 3:
			return errors.New("job failed")
		case 4:
			panic("job bug")
		case 5: // its lease is lost at once
			<-ctx.Done()
			return ctx.Err()
		case 6:
			return nil
		}
		once.Do(func() { close(canceledRun) })
		<-ctx.Done() // cancelled by the test: shutdown
		return ctx.Err()
	}, append(opts, tick.WithLock(locker), tick.OnError(tick.BackOff))...)
	stop := runJob(t, scripted)
	recv(t, canceledRun, `tick job "inventory" to reach its last run`)
	stop()

	var slowRuns atomic.Int32
	secondRun := make(chan struct{})
	slow := tick.Every("inventory-slow", time.Millisecond, func(ctx context.Context) error {
		if slowRuns.Add(1) == 2 {
			close(secondRun)
		}
		<-ctx.Done() // its Timeout, or shutdown
		return ctx.Err()
	}, append(opts, tick.Timeout(5*time.Millisecond))...)
	stop = runJob(t, slow)
	recv(t, secondRun, `tick job "inventory-slow" to start its second run`)
	stop()

	ran := make(chan struct{})
	idle := tick.Every("inventory-idle", time.Hour, func(context.Context) error {
		close(ran) // runs once: the next tick is an hour away
		return nil
	}, opts...)
	runJob(t, idle) // still running when the test collects; stopped by Cleanup
	recv(t, ran, `tick job "inventory-idle" to run`)

	if st := scripted.Status(); st.Failures != 4 || st.Skipped == 0 {
		t.Errorf(`tick job "inventory" Status() failures = %d, skipped = %d; want 4 failures and skipped ticks`, st.Failures, st.Skipped)
	}
}

// runJob runs j on a goroutine and returns a function that cancels it and
// waits for Run to return, at most once.
func runJob(t *testing.T, j *tick.Job) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := recv(t, done, "tick job "+j.Name()+" to return"); !errors.Is(err, context.Canceled) {
				t.Errorf("tick job %s Run() = %v; want context.Canceled", j.Name(), err)
			}
		})
	}
	t.Cleanup(stop) // if the test fails before stopping it
	return stop
}

// scriptedLocker answers each Acquire by its number: 1 held by another
// replica, 2 unreachable, 5 a lease already lost, others a lease.
type scriptedLocker struct{ step atomic.Int32 }

func (l *scriptedLocker) Acquire(context.Context, string) (tick.Lease, error) {
	switch l.step.Add(1) {
	case 1:
		return nil, tick.ErrLocked
	case 2:
		return nil, errors.New("lock service unreachable")
	case 5:
		lost := make(chan struct{})
		close(lost)
		return lease{lost}, nil
	}
	return lease{make(chan struct{})}, nil
}

type lease struct{ lost chan struct{} }

func (lease) Token() int64                  { return 0 }
func (l lease) Lost() <-chan struct{}       { return l.lost }
func (lease) Release(context.Context) error { return nil }

// exerciseFlags records the flags instruments: a successful load and a
// rejected one, and evaluations through an isolated OpenFeature API, one
// with a variant and one that fails (no variant, an error.type).
func exerciseFlags(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	path := filepath.Join(t.TempDir(), "flags.json")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatalf("os.WriteFile() err = %v", err)
		}
	}
	write(`{"flags": {"new-checkout": {"variants": {"on": true, "off": false}, "default": "on"}}}`)
	p := flags.NewProvider(flags.FileSource(path), flags.WithMeterProvider(mp), flags.WithLogger(discardLogger()))

	api := isolated.NewAPI()
	t.Cleanup(func() {
		if err := api.Shutdown(context.Background()); err != nil {
			t.Errorf("OpenFeature API Shutdown() err = %v", err)
		}
	})
	if err := api.SetProviderAndWait(ctx, p, openfeature.WithDomain("inventory")); err != nil {
		t.Fatalf("SetProviderAndWait() err = %v", err)
	}
	client := api.NewClient(openfeature.WithDomain("inventory"))
	// The targeting key and attributes are a user's: none may reach the
	// metric.
	ec := openfeature.NewEvaluationContext("203.0.113.7", map[string]any{"token": "secret"})
	if on := client.Boolean(ctx, "new-checkout", false, ec); !on {
		t.Errorf(`flag "new-checkout" = false; want true (variant "on")`)
	}
	if d, _ := client.BooleanValueDetails(ctx, "no-such-flag", false, ec); d.ErrorCode != openfeature.FlagNotFoundCode {
		t.Errorf(`flag "no-such-flag" error code = %q; want %q`, d.ErrorCode, openfeature.FlagNotFoundCode)
	}

	write(`{"flags": {"new-checkout": {"variants": {"on": true}, "default": "missing"}}}`)
	if err := p.Reload(); err == nil {
		t.Errorf("Provider.Reload() of an invalid file err = nil; want it rejected")
	}
}

// exerciseOverload records the overload instruments through a limiter of
// one unit that is taken at collection: a refusal by Acquire and one by
// guard.Shed (a 503). The observable instruments stay registered until
// Close, after collection. A call.Client's per-host limiter reports too.
func exerciseOverload(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	l := overload.NewLimiter(overload.Config{Name: "inventory", Algorithm: overload.Fixed(1), MeterProvider: mp})
	t.Cleanup(l.Close)
	held, err := l.Acquire(ctx, overload.Default)
	if err != nil {
		t.Fatalf("overload Acquire() err = %v; want the limiter's one unit", err)
	}
	t.Cleanup(func() { held.Done(overload.Ignored) }) // in flight at collection
	if _, err := l.Acquire(ctx, overload.Sheddable); !errors.Is(err, overload.ErrOverloaded) {
		t.Errorf("overload Acquire() at the limit err = %v; want overload.ErrOverloaded", err)
	}
	shed := guard.Shed(guard.ShedConfig{Limiter: l})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("guard.Shed called the handler at the limit")
	}))
	rec := httptest.NewRecorder()
	shed.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/users/42?token=secret", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("guard.Shed at the limit status = %d; want 503", rec.Code)
	}
	if st := l.Status(); st.InFlight != 1 || st.Rejected[overload.Sheddable][overload.ReasonLimit] != 1 || st.Rejected[overload.Default][overload.ReasonLimit] != 1 {
		t.Errorf("overload Status() = %+v; want 1 in flight, one sheddable and one default refusal for the limit", st)
	}

	// call.WithOverload: a limiter per destination host, named after it,
	// under the Client's MeterProvider.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	c := call.New(call.WithMeterProvider(mp), call.WithOverload(call.OverloadPolicy{}))
	t.Cleanup(c.CloseIdleConnections)
	if resp, _ := send(t, c.HTTPClient(), http.MethodGet, srv.URL+"/users/42?token=secret", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET through call.WithOverload status = %d; want 200", resp.StatusCode)
	}
}
