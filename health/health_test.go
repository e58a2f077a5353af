package health_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/internal/fakeclock"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

var errBoom = errors.New("boom")

func ok(context.Context) error   { return nil }
func fail(context.Context) error { return errBoom }

// counting returns a check that counts its calls and returns err.
func counting(n *atomic.Int64, err error) health.Check {
	return func(context.Context) error {
		n.Add(1)
		return err
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    health.Status
		want string
	}{
		{health.StatusUnknown, "unknown"},
		{health.StatusDown, "down"},
		{health.StatusUp, "up"},
		{health.Status(200), "unknown"},
	}
	for _, tc := range tests {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("Status(%d).String() = %q; want %q", tc.s, got, tc.want)
		}
		b, err := tc.s.MarshalText()
		if err != nil || string(b) != tc.want {
			t.Errorf("Status(%d).MarshalText() = %q, %v; want %q, nil", tc.s, b, err, tc.want)
		}
	}
	var zero health.Status
	if zero != health.StatusUnknown {
		t.Errorf("zero Status = %v; want unknown", zero)
	}
	var r health.Report
	if r.Status == health.StatusUp {
		t.Errorf("zero Report.Status = up; want not up")
	}
}

func TestRun_aggregation(t *testing.T) {
	t.Parallel()
	type check struct {
		name     string
		fn       health.Check
		critical bool
	}
	tests := []struct {
		name       string
		checks     []check
		wantStatus health.Status
		wantNames  []string
		wantDown   []string
	}{
		{name: "no checks", wantStatus: health.StatusUp},
		{
			name:       "all up",
			checks:     []check{{"b", ok, true}, {"a", ok, true}},
			wantStatus: health.StatusUp,
			wantNames:  []string{"a", "b"},
		},
		{
			name:       "critical down",
			checks:     []check{{"db", fail, true}, {"cache", ok, true}},
			wantStatus: health.StatusDown,
			wantNames:  []string{"cache", "db"},
			wantDown:   []string{"db"},
		},
		{
			name:       "non-critical down stays up",
			checks:     []check{{"db", ok, true}, {"cache", fail, false}},
			wantStatus: health.StatusUp,
			wantNames:  []string{"cache", "db"},
			wantDown:   []string{"cache"},
		},
		{
			name:       "both down",
			checks:     []check{{"z", fail, true}, {"y", fail, false}, {"x", ok, true}},
			wantStatus: health.StatusDown,
			wantNames:  []string{"x", "y", "z"},
			wantDown:   []string{"y", "z"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := health.New()
			for _, ch := range tc.checks {
				var opts []health.CheckOption
				if !ch.critical {
					opts = append(opts, health.NonCritical())
				}
				c.Add(ch.name, ch.fn, opts...)
			}
			r := c.Run(context.Background())
			if r.Status != tc.wantStatus {
				t.Errorf("Run().Status = %v; want %v", r.Status, tc.wantStatus)
			}
			if r.Draining {
				t.Errorf("Run().Draining = true; want false")
			}
			var names, down []string
			for _, cr := range r.Checks {
				names = append(names, cr.Name)
				if cr.Status == health.StatusDown {
					down = append(down, cr.Name)
					if !errors.Is(cr.Err, errBoom) {
						t.Errorf("check %q Err = %v; want %v", cr.Name, cr.Err, errBoom)
					}
				} else if cr.Status != health.StatusUp || cr.Err != nil {
					t.Errorf("check %q = %v, %v; want up, nil", cr.Name, cr.Status, cr.Err)
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.wantNames, ",") {
				t.Errorf("Run() check names = %v; want %v", names, tc.wantNames)
			}
			if strings.Join(down, ",") != strings.Join(tc.wantDown, ",") {
				t.Errorf("Run() down checks = %v; want %v", down, tc.wantDown)
			}
		})
	}
}

func TestRun_critical(t *testing.T) {
	t.Parallel()
	c := health.New()
	c.Add("a", ok)
	c.Add("b", ok, health.NonCritical())
	r := c.Run(context.Background())
	if !r.Checks[0].Critical || r.Checks[1].Critical {
		t.Errorf("Run() Critical = %v, %v; want true, false", r.Checks[0].Critical, r.Checks[1].Critical)
	}
}

func TestRun_parallel(t *testing.T) {
	t.Parallel()
	// Each check waits until all have started: a sequential run would time
	// every check out.
	const n = 4
	var started sync.WaitGroup
	started.Add(n)
	all := make(chan struct{})
	go func() { started.Wait(); close(all) }()
	c := health.New(health.DefaultCheckTimeout(30 * time.Second))
	for i := range n {
		c.Add(string(rune('a'+i)), func(ctx context.Context) error {
			started.Done()
			select {
			case <-all:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}
	if r := c.Run(context.Background()); r.Status != health.StatusUp {
		t.Fatalf("Run() = %+v; want up", r)
	}
}

func TestRun_timeoutIgnoredContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	returned := make(chan struct{})
	var calls atomic.Int64
	c := health.New()
	c.Add("stuck", func(context.Context) error {
		if calls.Add(1) == 1 {
			defer close(returned)
		}
		<-release // ignores its context
		return nil
	}, health.Timeout(10*time.Millisecond))
	c.Add("fine", ok)

	r := c.Run(context.Background())
	if r.Status != health.StatusDown {
		t.Errorf("Run().Status = %v; want down", r.Status)
	}
	stuck := r.Checks[1]
	if stuck.Name != "stuck" || stuck.Status != health.StatusDown {
		t.Fatalf("Run().Checks[1] = %+v; want stuck, down", stuck)
	}
	if !errors.Is(stuck.Err, health.ErrTimeout) || !errors.Is(stuck.Err, context.DeadlineExceeded) {
		t.Errorf("stuck Err = %v; want ErrTimeout and context.DeadlineExceeded", stuck.Err)
	}
	if r.Checks[0].Status != health.StatusUp {
		t.Errorf("fine = %v; want up", r.Checks[0].Status)
	}

	// The stuck call is still running: it must not be started again.
	for range 3 {
		r = c.Run(context.Background())
		if got := r.Checks[1]; !errors.Is(got.Err, health.ErrStillRunning) || got.Status != health.StatusDown || got.Duration != 0 {
			t.Errorf("Run() while stuck: %+v; want down, ErrStillRunning, 0 duration", got)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("check calls while stuck = %d; want 1", got)
	}

	close(release)
	<-returned
	// The goroutine clears its running flag just after the check returns.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = c.Run(context.Background())
		if !errors.Is(r.Checks[1].Err, health.ErrStillRunning) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("check still reported running 10s after it returned")
		}
		runtime.Gosched()
	}
	if r.Status != health.StatusUp || calls.Load() != 2 {
		t.Errorf("Run() after release = %v with %d calls; want up with 2", r.Status, calls.Load())
	}
}

func TestRun_timeoutRespectedContext(t *testing.T) {
	t.Parallel()
	c := health.New(health.DefaultCheckTimeout(10 * time.Millisecond))
	c.Add("slow", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	r := c.Run(context.Background())
	if err := r.Checks[0].Err; !errors.Is(err, health.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run() slow Err = %v; want ErrTimeout wrapping context.DeadlineExceeded", err)
	}
	if r.Status != health.StatusDown {
		t.Errorf("Run().Status = %v; want down", r.Status)
	}
}

func TestRun_checkContext(t *testing.T) {
	t.Parallel()
	type key struct{}
	c := health.New(health.DefaultCheckTimeout(time.Minute))
	var got any
	var deadline time.Time
	var hasDeadline bool
	c.Add("ctx", func(ctx context.Context) error {
		got = ctx.Value(key{})
		deadline, hasDeadline = ctx.Deadline()
		return nil
	})
	before := time.Now()
	c.Run(context.WithValue(context.Background(), key{}, "v"))
	if got != "v" {
		t.Errorf("check ctx.Value = %v; want v", got)
	}
	if !hasDeadline || deadline.Before(before.Add(time.Minute)) {
		t.Errorf("check ctx.Deadline() = %v, %v; want about a minute from now", deadline, hasDeadline)
	}
}

func TestRun_panic(t *testing.T) {
	t.Parallel()
	c := health.New()
	c.Add("panics", func(context.Context) error { panic("kaboom") })
	c.Add("goexit", func(context.Context) error { runtime.Goexit(); return nil })
	c.Add("ok", ok)
	r := c.Run(context.Background())
	if r.Status != health.StatusDown {
		t.Errorf("Run().Status = %v; want down", r.Status)
	}
	var pe *health.PanicError
	if !errors.As(r.Checks[2].Err, &pe) {
		t.Fatalf("panics Err = %v; want *PanicError", r.Checks[2].Err)
	}
	if pe.Value != "kaboom" || len(pe.Stack) == 0 || pe.Error() != "health: check panic: kaboom" {
		t.Errorf("PanicError = %q, %q, %d-byte stack; want kaboom and a stack", pe.Value, pe.Error(), len(pe.Stack))
	}
	if g := r.Checks[0]; g.Name != "goexit" || g.Status != health.StatusDown || g.Err == nil {
		t.Errorf("goexit = %+v; want down with an error", g)
	}
	if r.Checks[1].Status != health.StatusUp {
		t.Errorf("ok = %v; want up", r.Checks[1].Status)
	}
	// A check that panicked can run again.
	if r := c.Run(context.Background()); !errors.As(r.Checks[2].Err, &pe) {
		t.Errorf("second Run() panics Err = %v; want *PanicError", r.Checks[2].Err)
	}
}

func TestRun_contextDone(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	c := health.New()
	c.Add("a", counting(&calls, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := c.Run(ctx)
	if r.Status != health.StatusUnknown || len(r.Checks) != 0 {
		t.Errorf("Run(cancelled) = %+v; want unknown, no checks", r)
	}
	if calls.Load() != 0 {
		t.Errorf("Run(cancelled) ran %d checks; want 0", calls.Load())
	}
}

func TestRun_joinsRunInProgress(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int64
	c := health.New(health.DefaultCheckTimeout(time.Minute))
	c.Add("slow", func(context.Context) error {
		if calls.Add(1) == 1 {
			close(started)
		}
		<-release
		return nil
	})
	first := make(chan health.Report)
	go func() { first <- c.Run(context.Background()) }()
	<-started

	// A second caller joins the run in progress: it waits for it (and gives
	// up with its own context) instead of starting another run, which would
	// have reported ErrStillRunning at once.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	r := c.Run(ctx)
	cancel()
	if r.Status != health.StatusUnknown || len(r.Checks) != 0 {
		t.Errorf("Run() joining a run, own ctx expired = %+v; want unknown, no checks", r)
	}

	close(release)
	if r := <-first; r.Status != health.StatusUp {
		t.Errorf("first Run() = %v; want up", r.Status)
	}
	if calls.Load() != 1 {
		t.Errorf("check calls = %d; want 1", calls.Load())
	}
}

func TestRun_concurrent(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	c := health.New()
	c.Add("a", counting(&calls, nil))
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i == n/2 {
				c.Add("late", ok)
			}
			if r := c.Run(context.Background()); r.Status != health.StatusUp {
				t.Errorf("concurrent Run() = %v; want up", r.Status)
			}
		})
	}
	wg.Wait()
	if got := calls.Load(); got < 1 || got > n {
		t.Errorf("check calls = %d; want 1..%d", got, n)
	}
	if r := c.Run(context.Background()); len(r.Checks) != 2 {
		t.Errorf("Run() after Add = %d checks; want 2", len(r.Checks))
	}
}

func TestRun_reportOwnedByCaller(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Unix(1000, 0))
	c := health.New(health.CacheTTL(time.Minute), health.WithClock(clk.Now))
	c.Add("a", ok)
	r := c.Run(context.Background())
	r.Checks[0].Name = "mutated"
	if got := c.Run(context.Background()).Checks[0].Name; got != "a" {
		t.Errorf("cached Run().Checks[0].Name = %q after caller mutation; want a", got)
	}
}

func TestRun_cacheTTL(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Unix(1000, 0))
	var calls atomic.Int64
	c := health.New(health.CacheTTL(5*time.Second), health.WithClock(clk.Now))
	c.Add("a", counting(&calls, nil))

	steps := []struct {
		advance time.Duration
		want    int64
	}{
		{0, 1},
		{0, 1},
		{5*time.Second - 1, 1},
		{1, 2},                // TTL reached: a new run
		{time.Second, 2},      // cached again from the second run
		{-time.Hour, 3},       // clock stepped back: cache treated as stale
		{4 * time.Second, 3},  // within TTL of the third run
		{10 * time.Second, 4}, // long after
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		if r := c.Run(context.Background()); r.Status != health.StatusUp {
			t.Fatalf("step %d: Run() = %v; want up", i, r.Status)
		}
		if got := calls.Load(); got != s.want {
			t.Errorf("step %d (advance %v): check calls = %d; want %d", i, s.advance, got, s.want)
		}
	}

	// Adding a check invalidates the cache.
	c.Add("b", ok)
	if r := c.Run(context.Background()); len(r.Checks) != 2 || calls.Load() != 5 {
		t.Errorf("Run() after Add = %d checks, %d calls; want 2, 5", len(r.Checks), calls.Load())
	}
}

func TestRun_noCacheByDefault(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	c := health.New()
	c.Add("a", counting(&calls, nil))
	for range 3 {
		c.Run(context.Background())
	}
	if calls.Load() != 3 {
		t.Errorf("3 sequential Run() = %d calls; want 3", calls.Load())
	}
}

func TestRun_duration(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Unix(1000, 0))
	c := health.New(health.WithClock(clk.Now))
	c.Add("a", func(context.Context) error {
		clk.Advance(150 * time.Millisecond)
		return nil
	})
	r := c.Run(context.Background())
	if got := r.Checks[0].Duration; got != 150*time.Millisecond {
		t.Errorf("Run() duration = %v; want 150ms", got)
	}
	c2 := health.New(health.WithClock(clk.Now))
	c2.Add("back", func(context.Context) error {
		clk.Advance(-time.Second)
		return nil
	})
	if got := c2.Run(context.Background()).Checks[0].Duration; got != 0 {
		t.Errorf("Run() duration with clock stepped back = %v; want 0", got)
	}
}

func TestDraining(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	c := health.New()
	c.Add("a", counting(&calls, nil))
	if c.Draining() {
		t.Errorf("Draining() before SetDraining = true; want false")
	}
	c.SetDraining()
	c.SetDraining() // idempotent
	if !c.Draining() {
		t.Errorf("Draining() = false; want true")
	}
	r := c.Run(context.Background())
	if r.Status != health.StatusDown || !r.Draining || len(r.Checks) != 0 {
		t.Errorf("Run() while draining = %+v; want down, draining, no checks", r)
	}
	if calls.Load() != 0 {
		t.Errorf("Run() while draining ran %d checks; want 0", calls.Load())
	}
}

func TestDraining_duringRun(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	c := health.New()
	c.Add("a", func(context.Context) error {
		close(started)
		<-release
		return nil
	})
	got := make(chan health.Report)
	go func() { got <- c.Run(context.Background()) }()
	<-started
	c.SetDraining()
	close(release)
	if r := <-got; r.Status != health.StatusDown || !r.Draining {
		t.Errorf("Run() with SetDraining during the run = %v, draining %v; want down, draining", r.Status, r.Draining)
	}
}

func TestPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fn   func()
		want string
	}{
		{"empty name", func() { health.New().Add("", ok) }, "health.Checker.Add: empty name"},
		{"nil check", func() { health.New().Add("a", nil) }, "health.Checker.Add: check \"a\" is nil"},
		{"duplicate", func() {
			c := health.New()
			c.Add("a", ok)
			c.Add("b", ok)
			c.Add("a", fail)
		}, "health.Checker.Add: duplicate check name \"a\""},
		{"Timeout zero", func() { health.Timeout(0) }, "health.Timeout:"},
		{"Timeout negative", func() { health.Timeout(-1) }, "health.Timeout:"},
		{"DefaultCheckTimeout zero", func() { health.DefaultCheckTimeout(0) }, "health.DefaultCheckTimeout:"},
		{"CacheTTL negative", func() { health.CacheTTL(-time.Second) }, "health.CacheTTL:"},
		{"SQLPing nil", func() { health.SQLPing(nil) }, "health.SQLPing:"},
		{"HTTPGet relative", func() { health.HTTPGet(nil, "/healthz") }, "health.HTTPGet:"},
		{"HTTPGet scheme", func() { health.HTTPGet(nil, "ftp://host/x") }, "health.HTTPGet:"},
		{"HTTPGet garbage", func() { health.HTTPGet(nil, "http://[::1") }, "health.HTTPGet:"},
		{"TCPDial no port", func() { health.TCPDial("localhost") }, "health.TCPDial:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.HasPrefix(msg, tc.want) || !strings.Contains(msg, ";") {
					t.Errorf("panic = %v; want a message starting %q with a fix after ';'", r, tc.want)
				}
			}()
			tc.fn()
		})
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	clk := fakeclock.New(time.Unix(1000, 0))
	c := health.New(health.WithMeterProvider(mp), health.WithClock(clk.Now))
	c.Add("db", func(context.Context) error {
		return nil
	})
	c.Add("cache", fail, health.NonCritical())
	c.Run(context.Background())
	c.Run(context.Background())

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect() = %v", err)
	}
	var hist *metricdata.Histogram[float64]
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/chassis-go/chassis/health" {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name == "chassis.health.check.duration" {
				if m.Unit != "s" {
					t.Errorf("unit = %q; want s", m.Unit)
				}
				h, _ := m.Data.(metricdata.Histogram[float64])
				hist = &h
			}
		}
	}
	if hist == nil {
		t.Fatal("no chassis.health.check.duration histogram in scope github.com/chassis-go/chassis/health")
	}
	got := map[string]uint64{}
	for _, dp := range hist.DataPoints {
		name, _ := dp.Attributes.Value(attribute.Key("chassis.check"))
		status, _ := dp.Attributes.Value(attribute.Key("chassis.check.status"))
		got[name.AsString()+"/"+status.AsString()] = dp.Count
	}
	want := map[string]uint64{"db/up": 2, "cache/down": 2}
	if len(got) != len(want) {
		t.Errorf("data points = %v; want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("count[%s] = %d; want %d", k, got[k], v)
		}
	}
}

// TestPanicError_unwrap checks that a check that panics with an error is
// seen through by errors.Is, and that Error is one bounded line.
func TestPanicError_unwrap(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	c := health.New()
	c.Add("err", func(context.Context) error { panic(boom) })
	c.Add("long", func(context.Context) error { panic(strings.Repeat("x\n", 1<<20)) })
	r := c.Run(context.Background())
	if err := r.Checks[0].Err; !errors.Is(err, boom) {
		t.Errorf("Err = %v; want it to unwrap to boom", err)
	}
	var pe *health.PanicError
	if !errors.As(r.Checks[1].Err, &pe) || len(pe.Error()) > 1200 || pe.Unwrap() != nil {
		t.Errorf("long panic: Error() is %d bytes, Unwrap() = %v; want at most about 1 KiB and nil", len(pe.Error()), pe.Unwrap())
	}
}
