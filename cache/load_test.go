package cache_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/cache"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

// gate is a load that blocks until released, counting its calls.
type gate struct {
	calls   atomic.Int64
	entered chan struct{} // receives once per call
	release chan struct{}
	val     string
	err     error
}

func newGate(val string, err error) *gate {
	return &gate{entered: make(chan struct{}, 1000), release: make(chan struct{}), val: val, err: err}
}

func (g *gate) load(ctx context.Context, _ string) (string, error) {
	g.calls.Add(1)
	g.entered <- struct{}{}
	<-g.release
	return g.val, g.err
}

func constant(v string) func(context.Context, string) (string, error) {
	return func(context.Context, string) (string, error) { return v, nil }
}

func TestGetOrLoadStampede(t *testing.T) {
	t.Parallel()
	r := newReader()
	c := cache.New(cache.Config[string, string]{MeterProvider: r.provider()})
	defer c.Close()
	g := newGate("v", nil)
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			v, err := c.GetOrLoad(context.Background(), "k", g.load)
			if err != nil || v != "v" {
				errs <- fmt.Errorf("GetOrLoad = %q, %v; want v, nil", v, err)
			}
		})
	}
	// Release the load only once all 1000 callers have missed, so that they
	// really are concurrent misses.
	<-g.entered
	for r.sum(t, "chassis.cache.misses") < n {
		runtime.Gosched()
	}
	close(g.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if calls := g.calls.Load(); calls != 1 {
		t.Errorf("%d concurrent misses on one key ran %d loads; want 1", n, calls)
	}
}

func TestGetOrLoadWaiterLeaves(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Config[string, string]{})
	defer c.Close()
	var loadCtxErr atomic.Value
	release := make(chan struct{})
	entered := make(chan struct{})
	load := func(ctx context.Context, _ string) (string, error) {
		close(entered)
		<-release
		loadCtxErr.Store(fmt.Sprint(ctx.Err()))
		return "v", nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error)
	go func() {
		_, err := c.GetOrLoad(ctx, "k", load)
		left <- err
	}()
	<-entered
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("GetOrLoad of a cancelled waiter = %v; want context.Canceled", err)
	}
	// The load goes on: a second waiter gets its result.
	done := make(chan string)
	go func() {
		v, _ := c.GetOrLoad(context.Background(), "k", constant("second load"))
		done <- v
	}()
	close(release)
	if v := <-done; v != "v" {
		t.Errorf("second waiter got %q; want the first load's v", v)
	}
	if got := loadCtxErr.Load(); got != "<nil>" {
		t.Errorf("the load's ctx.Err() after its caller left = %v; want <nil> (detached)", got)
	}
	if v, ok := c.Get("k"); !ok || v != "v" {
		t.Errorf("Get(k) after the load = %q, %v; want v, true", v, ok)
	}
}

func TestGetOrLoadCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Config[string, string]{})
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	_, err := c.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { called = true; return "", nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Errorf("GetOrLoad(cancelled ctx) = %v, load called %v; want context.Canceled, false", err, called)
	}
}

func TestGetOrLoadTimeout(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Config[string, string]{LoadTimeout: time.Millisecond})
	defer c.Close()
	_, err := c.GetOrLoad(context.Background(), "k", func(ctx context.Context, _ string) (string, error) {
		<-ctx.Done() // the load's own deadline, not the caller's
		return "", ctx.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetOrLoad with a load outliving LoadTimeout = %v; want context.DeadlineExceeded", err)
	}
}

func TestGetOrLoadErrorsAreNotCached(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Config[string, string]{NegativeTTL: time.Minute})
	defer c.Close()
	boom := errors.New("boom")
	calls := 0
	for i := range 3 {
		_, err := c.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
			calls++
			return "", boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("GetOrLoad #%d = %v; want boom", i, err)
		}
	}
	if calls != 3 {
		t.Errorf("3 GetOrLoad calls with a failing load ran %d loads; want 3 (errors are not cached)", calls)
	}
	if v, err := c.GetOrLoad(context.Background(), "k", constant("ok")); err != nil || v != "ok" {
		t.Errorf("GetOrLoad after failures = %q, %v; want ok, nil", v, err)
	}
}

func TestGetOrLoadPanic(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Config[string, string]{})
	defer c.Close()
	for _, tc := range []struct {
		name  string
		load  func(context.Context, string) (string, error)
		check func(error) bool
		want  string
	}{
		{"string", func(context.Context, string) (string, error) { panic("kaboom") },
			func(err error) bool {
				var pe *cache.PanicError
				return errors.As(err, &pe) && pe.Value == "kaboom" && len(pe.Stack) > 0
			},
			"cache: load panic: kaboom"},
		{"error", func(context.Context, string) (string, error) { panic(context.Canceled) },
			func(err error) bool { return errors.Is(err, context.Canceled) },
			"cache: load panic: context canceled"},
		{"huge", func(context.Context, string) (string, error) { panic(strings.Repeat("x", 1<<20)) },
			func(err error) bool { return len(err.Error()) < 2048 },
			"cache: load panic: xxx"},
		{"goexit", func(context.Context, string) (string, error) { runtime.Goexit(); return "", nil },
			func(err error) bool { return err != nil },
			"cache: load called runtime.Goexit"},
	} {
		_, err := c.GetOrLoad(context.Background(), tc.name, tc.load)
		if err == nil || !tc.check(err) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("GetOrLoad with a load that panics (%s) = %v; want prefix %q", tc.name, err, tc.want)
		}
		// Nothing is cached or wedged: the next load runs.
		if v, err := c.GetOrLoad(context.Background(), tc.name, constant("ok")); err != nil || v != "ok" {
			t.Errorf("GetOrLoad after a panicking load (%s) = %q, %v; want ok, nil", tc.name, v, err)
		}
	}
}

func TestNegativeCaching(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		negTTL    time.Duration
		wantCalls int
	}{
		{"enabled", time.Minute, 1},
		{"disabled", 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := fakeclock.New(start)
			c := cache.New(cache.Config[string, string]{NegativeTTL: tc.negTTL, Clock: clk.Now})
			defer c.Close()
			calls := 0
			load := func(_ context.Context, k string) (string, error) {
				calls++
				return "", fmt.Errorf("user %s: %w", k, cache.ErrNotFound)
			}
			for range 3 {
				if _, err := c.GetOrLoad(context.Background(), "7", load); !errors.Is(err, cache.ErrNotFound) || err.Error() != "user 7: cache: not found" {
					t.Fatalf("GetOrLoad of a missing key = %v; want user 7: cache: not found", err)
				}
			}
			if calls != tc.wantCalls {
				t.Errorf("loads for 3 lookups of a missing key = %d; want %d", calls, tc.wantCalls)
			}
			if _, ok := c.Get("7"); ok {
				t.Error("Get found a negative entry")
			}
			clk.Advance(tc.negTTL)
			if v, err := c.GetOrLoad(context.Background(), "7", constant("now here")); err != nil || v != "now here" {
				t.Errorf("GetOrLoad after NegativeTTL = %q, %v; want now here, nil", v, err)
			}
		})
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(start)
	c := cache.New(cache.Config[string, string]{TTL: time.Minute, Jitter: -1, StaleWhileRevalidate: time.Minute, Clock: clk.Now})
	if _, err := c.GetOrLoad(context.Background(), "k", constant("v1")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(90 * time.Second)
	g := newGate("v2", nil)
	for i := range 3 {
		v, err := c.GetOrLoad(context.Background(), "k", g.load)
		if err != nil || v != "v1" {
			t.Fatalf("GetOrLoad #%d of a stale entry = %q, %v; want v1 at once", i, v, err)
		}
	}
	<-g.entered
	if _, ok := c.Get("k"); ok {
		t.Error("Get served a stale entry")
	}
	close(g.release)
	c.Close() // waits for the refresh
	if v, ok := c.Get("k"); !ok || v != "v2" {
		t.Errorf("Get after the refresh = %q, %v; want v2, true", v, ok)
	}
	if calls := g.calls.Load(); calls != 1 {
		t.Errorf("refreshes for 3 stale reads = %d; want 1", calls)
	}
	// Past the window, a stale entry is a miss.
	clk.Advance(3 * time.Minute)
	if v, err := c.GetOrLoad(context.Background(), "k", constant("v3")); err != nil || v != "v3" {
		t.Errorf("GetOrLoad past StaleWhileRevalidate = %q, %v; want v3 (a fresh load)", v, err)
	}
}

func TestStaleIfError(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(start)
	c := cache.New(cache.Config[string, string]{TTL: time.Minute, Jitter: -1, StaleIfError: time.Minute, Clock: clk.Now})
	defer c.Close()
	boom := errors.New("boom")
	fail := func(context.Context, string) (string, error) { return "", boom }
	gone := func(context.Context, string) (string, error) { return "", cache.ErrNotFound }
	c.Set("k", "v1")
	c.Set("gone", "v1")
	clk.Advance(90 * time.Second)
	if v, err := c.GetOrLoad(context.Background(), "k", fail); err != nil || v != "v1" {
		t.Errorf("GetOrLoad with a failing load within StaleIfError = %q, %v; want v1, nil", v, err)
	}
	if _, err := c.GetOrLoad(context.Background(), "gone", gone); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("GetOrLoad with a not-found load within StaleIfError = %v; want ErrNotFound", err)
	}
	if _, err := c.GetOrLoad(context.Background(), "gone", fail); !errors.Is(err, boom) {
		t.Errorf("GetOrLoad after not-found = %v; want boom (the stale entry is dropped)", err)
	}
	clk.Advance(31 * time.Second)
	if _, err := c.GetOrLoad(context.Background(), "k", fail); !errors.Is(err, boom) {
		t.Errorf("GetOrLoad with a failing load past StaleIfError = %v; want boom", err)
	}
}

func TestWritesInvalidateLoadsInFlight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		write   func(c *cache.Cache[string, string])
		want    string
		wantHit bool
	}{
		{"Set", func(c *cache.Cache[string, string]) { c.Set("k", "set") }, "set", true},
		{"Delete", func(c *cache.Cache[string, string]) { c.Delete("k") }, "", false},
		{"Clear", func(c *cache.Cache[string, string]) { c.Clear() }, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := cache.New(cache.Config[string, string]{})
			defer c.Close()
			g := newGate("loaded", nil)
			done := make(chan string)
			go func() {
				v, _ := c.GetOrLoad(context.Background(), "k", g.load)
				done <- v
			}()
			<-g.entered
			tc.write(c)
			close(g.release)
			if v := <-done; v != "loaded" {
				t.Errorf("waiter got %q; want the load's result", v)
			}
			if v, ok := c.Get("k"); ok != tc.wantHit || v != tc.want {
				t.Errorf("Get(k) = %q, %v; want %q, %v: the load's older result must not overwrite %s", v, ok, tc.want, tc.wantHit, tc.name)
			}
		})
	}
}

func TestCloseCancelsBackgroundLoads(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Config[string, string]{LoadTimeout: -1})
	entered := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error)
	go func() {
		_, err := c.GetOrLoad(ctx, "k", func(ctx context.Context, _ string) (string, error) {
			close(entered)
			<-ctx.Done()
			return "", ctx.Err()
		})
		left <- err
	}()
	<-entered
	cancel()
	<-left
	c.Close() // returns only once the load has seen cancellation; goleak checks the rest
	c.Close()
	// After Close, a miss loads inline, and a hit is served.
	if v, err := c.GetOrLoad(context.Background(), "k", constant("inline")); err != nil || v != "inline" {
		t.Errorf("GetOrLoad after Close = %q, %v; want inline, nil", v, err)
	}
	if v, err := c.GetOrLoad(context.Background(), "k", constant("again")); err != nil || v != "inline" {
		t.Errorf("GetOrLoad hit after Close = %q, %v; want inline, nil", v, err)
	}
}

func TestGetOrLoadNilLoadPanics(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Config[string, string]{})
	defer func() {
		if msg, _ := recover().(string); !strings.HasPrefix(msg, "cache.GetOrLoad: load is nil") {
			t.Errorf("GetOrLoad(nil load) panicked with %q", msg)
		}
	}()
	c.GetOrLoad(context.Background(), "k", nil)
}

func TestBackgroundRefreshFailureIsLogged(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(start)
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
	c := cache.New(cache.Config[string, string]{TTL: time.Minute, Jitter: -1, StaleWhileRevalidate: time.Minute, Clock: clk.Now, Logger: logger})
	c.Set("k", "v1")
	clk.Advance(90 * time.Second)
	v, err := c.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) { panic("refresh broke") })
	if err != nil || v != "v1" {
		t.Fatalf("GetOrLoad of a stale entry = %q, %v; want v1", v, err)
	}
	c.Close() // waits for the refresh
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), `msg="cache: background refresh failed" cache=default error="cache: load panic: refresh broke"`) {
		t.Errorf("log = %q; want the refresh's panic", buf.String())
	}
	if s := c.Stats(); s.LoadErrors != 1 || s.StaleHits != 1 {
		t.Errorf("Stats() = %+v; want 1 load error and 1 stale hit", s)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
