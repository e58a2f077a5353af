package guard_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

var memT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestMemoryLimiterSequence(t *testing.T) {
	t.Parallel()
	l := guard.Limit{Rate: 10, Per: time.Second, Burst: 3} // one every 100ms, bursts of 3
	type step struct {
		advance time.Duration
		key     string
		want    guard.Decision
	}
	allow := func(remaining int, reset time.Duration) guard.Decision {
		return guard.Decision{Allowed: true, Limit: l, Remaining: remaining, ResetAfter: reset}
	}
	deny := func(retry, reset time.Duration) guard.Decision {
		return guard.Decision{Limit: l, RetryAfter: retry, ResetAfter: reset}
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"burst then deny", []step{
			{0, "a", allow(2, 100*time.Millisecond)},
			{0, "a", allow(1, 200*time.Millisecond)},
			{0, "a", allow(0, 300*time.Millisecond)},
			{0, "a", deny(100*time.Millisecond, 300*time.Millisecond)},
			{40 * time.Millisecond, "a", deny(60*time.Millisecond, 260*time.Millisecond)},
		}},
		{"steady rate", []step{
			{0, "a", allow(2, 100*time.Millisecond)},
			{0, "a", allow(1, 200*time.Millisecond)},
			{0, "a", allow(0, 300*time.Millisecond)},
			{100 * time.Millisecond, "a", allow(0, 300*time.Millisecond)},
			{100 * time.Millisecond, "a", allow(0, 300*time.Millisecond)},
			{50 * time.Millisecond, "a", deny(50*time.Millisecond, 250*time.Millisecond)},
			{50 * time.Millisecond, "a", allow(0, 300*time.Millisecond)},
		}},
		{"replenishes fully", []step{
			{0, "a", allow(2, 100*time.Millisecond)},
			{0, "a", allow(1, 200*time.Millisecond)},
			{0, "a", allow(0, 300*time.Millisecond)},
			{200 * time.Millisecond, "a", allow(1, 200*time.Millisecond)},
			{time.Hour, "a", allow(2, 100*time.Millisecond)},
		}},
		{"keys are independent", []step{
			{0, "a", allow(2, 100*time.Millisecond)},
			{0, "a", allow(1, 200*time.Millisecond)},
			{0, "a", allow(0, 300*time.Millisecond)},
			{0, "b", allow(2, 100*time.Millisecond)},
			{0, "a", deny(100*time.Millisecond, 300*time.Millisecond)},
			{0, "", allow(2, 100*time.Millisecond)},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := fakeclock.New(memT0)
			m := guard.NewMemoryLimiter(l, guard.WithClock(clk.Now))
			for i, s := range tc.steps {
				clk.Advance(s.advance)
				got, err := m.Allow(context.Background(), s.key)
				if err != nil || got != s.want {
					t.Errorf("step %d: Allow(%q) = %+v, %v; want %+v, nil", i, s.key, got, err, s.want)
				}
			}
		})
	}
}

func TestMemoryLimiterDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		l    guard.Limit
		want guard.Limit
	}{
		{guard.PerSecond(5), guard.Limit{Rate: 5, Per: time.Second, Burst: 5}},
		{guard.PerMinute(100), guard.Limit{Rate: 100, Per: time.Minute, Burst: 100}},
		{guard.Limit{Rate: 7, Per: time.Hour}, guard.Limit{Rate: 7, Per: time.Hour, Burst: 7}},
		{guard.Limit{Rate: 7, Per: time.Hour, Burst: 1}, guard.Limit{Rate: 7, Per: time.Hour, Burst: 1}},
	}
	for _, tc := range tests {
		m := guard.NewMemoryLimiter(tc.l)
		if got := m.Limit(); got != tc.want {
			t.Errorf("NewMemoryLimiter(%+v).Limit() = %+v; want %+v", tc.l, got, tc.want)
		}
		d, _ := m.Allow(context.Background(), "k")
		if d.Limit != tc.want || d.Remaining != tc.want.Burst-1 {
			t.Errorf("NewMemoryLimiter(%+v).Allow() = %+v; want Limit %+v, Remaining %d", tc.l, d, tc.want, tc.want.Burst-1)
		}
	}
}

func TestNewMemoryLimiterPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		l    guard.Limit
		opts []guard.MemoryOption
		want string
	}{
		{"zero rate", guard.Limit{Per: time.Second}, nil, "guard.NewMemoryLimiter: Limit.Rate must be > 0, got 0"},
		{"negative rate", guard.Limit{Rate: -1, Per: time.Second}, nil, "guard.NewMemoryLimiter: Limit.Rate must be > 0, got -1"},
		{"zero per", guard.Limit{Rate: 1}, nil, "guard.NewMemoryLimiter: Limit.Per must be > 0, got 0s"},
		{"negative burst", guard.Limit{Rate: 1, Per: time.Second, Burst: -2}, nil, "guard.NewMemoryLimiter: Limit.Burst must be >= 0, got -2"},
		{"sub-nanosecond interval", guard.Limit{Rate: 2e9, Per: time.Second}, nil, "guard.NewMemoryLimiter: Limit.Rate 2000000000 is too high for Per 1s: the interval Per/Rate must be at least 1ns"},
		{"overflowing burst", guard.Limit{Rate: 1, Per: time.Hour, Burst: 1 << 40}, nil, "guard.NewMemoryLimiter: Limit.Burst 1099511627776 is too large: Burst*Per/Rate overflows"},
		{"zero max keys", guard.PerSecond(1), []guard.MemoryOption{guard.MaxKeys(0)}, "guard.NewMemoryLimiter: MaxKeys must be >= 1, got 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if got := recover(); got != tc.want {
					t.Errorf("NewMemoryLimiter(%+v) panicked with %v; want %q", tc.l, got, tc.want)
				}
			}()
			guard.NewMemoryLimiter(tc.l, tc.opts...)
		})
	}
}

func TestLimitValidate(t *testing.T) {
	t.Parallel()
	if err := guard.PerMinute(1).Validate(); err != nil {
		t.Errorf("PerMinute(1).Validate() = %v; want nil", err)
	}
	err := guard.Limit{Rate: 1}.Validate()
	if err == nil || err.Error() != "guard: Limit.Per must be > 0, got 0s" {
		t.Errorf("Limit{Rate: 1}.Validate() = %v; want guard: Limit.Per must be > 0, got 0s", err)
	}
}

// TestMemoryLimiterMaxKeysOne is the plain case of the eviction bypass: with
// room for one key, a second client must not reset the first one's state.
func TestMemoryLimiterMaxKeysOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := fakeclock.New(memT0)
	m := guard.NewMemoryLimiter(guard.PerMinute(1), guard.MaxKeys(1), guard.WithClock(clk.Now))
	steps := []struct {
		key  string
		want bool
	}{
		{"A", true},
		{"A", false},
		{"B", true}, // no room: B is charged to the shared overflow allowance
		{"A", false},
		{"C", false}, // the overflow allowance is spent
		{"A", false},
		{"B", false},
	}
	for i, s := range steps {
		d, _ := m.Allow(ctx, s.key)
		if d.Allowed != s.want {
			t.Errorf("step %d: Allow(%q).Allowed = %v; want %v", i, s.key, d.Allowed, s.want)
		}
		if n := m.Len(); n > 1 {
			t.Errorf("step %d: Len() = %d; want <= 1", i, n)
		}
	}
	d, _ := m.Allow(ctx, "A")
	if d.RetryAfter != time.Minute {
		t.Errorf("Allow(A).RetryAfter = %v; want 1m0s", d.RetryAfter)
	}
	clk.Advance(time.Minute)
	for _, k := range []string{"A", "B"} {
		if d, _ := m.Allow(ctx, k); !d.Allowed {
			t.Errorf("after a minute, Allow(%q) = %+v; want allowed", k, d)
		}
	}
}

// TestMemoryLimiterFlood sends a flood of 100×MaxKeys distinct keys while one
// hot key sends at 10 times its limit: the hot key must never get more than
// its limit, and the table must never exceed MaxKeys.
func TestMemoryLimiterFlood(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		l       guard.Limit
		maxKeys int
	}{
		{"burst 5, 1000 keys", guard.Limit{Rate: 10, Per: time.Second, Burst: 5}, 1000},
		{"burst 1, 8 keys", guard.Limit{Rate: 10, Per: time.Second, Burst: 1}, 8},
		{"burst 20, 2000 keys", guard.Limit{Rate: 10, Per: time.Second, Burst: 20}, 2000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clk := fakeclock.New(memT0)
			m := guard.NewMemoryLimiter(tc.l, guard.MaxKeys(tc.maxKeys), guard.WithClock(clk.Now))
			const (
				steps = 10_000
				step  = time.Millisecond // 10s in all
			)
			floodPerStep := 100 * tc.maxKeys / steps
			if floodPerStep < 1 {
				floodPerStep = 1
			}
			interval := tc.l.Per / time.Duration(tc.l.Rate) / 10 // 10x the limit
			hot, flood := 0, 0
			var next time.Duration
			for i := range steps {
				elapsed := time.Duration(i) * step
				for range floodPerStep {
					m.Allow(ctx, "flood-"+strconv.Itoa(flood))
					flood++
				}
				if elapsed >= next {
					if d, _ := m.Allow(ctx, "hot"); d.Allowed {
						hot++
					}
					next += interval
				}
				if n := m.Len(); i%500 == 0 && n > tc.maxKeys {
					t.Fatalf("Len() = %d; want <= %d", n, tc.maxKeys)
				}
				clk.Advance(step)
			}
			elapsed := steps * step
			bound := tc.l.Rate*int(elapsed/tc.l.Per) + tc.l.Burst
			if hot > bound {
				t.Errorf("hot key admitted %d times in %v under a flood of %d keys; want <= %d", hot, elapsed, flood, bound)
			}
			if n := m.Len(); n > tc.maxKeys {
				t.Errorf("Len() = %d; want <= %d", n, tc.maxKeys)
			}
			t.Logf("hot key admitted %d times (bound %d), flood of %d keys, Len %d", hot, bound, flood, m.Len())
		})
	}
}

// gcraReference is an exact GCRA with unbounded memory, written independently of
// the package's implementation.
type gcraReference struct {
	interval, window time.Duration
	tat              map[string]time.Duration
}

func (r *gcraReference) allow(key string, now time.Duration) bool {
	tat, ok := r.tat[key]
	if !ok || tat < now {
		tat = now
	}
	if tat+r.interval-now > r.window {
		return false
	}
	r.tat[key] = tat + r.interval
	return true
}

// TestMemoryLimiterNeverExceedsReference drives a small limiter with random
// keys, random time steps (some backwards) and random bursts, and checks every
// admission against an unbounded exact limiter charged with the same
// admissions: eviction may forget, but never in a client's favour.
func TestMemoryLimiterNeverExceedsReference(t *testing.T) {
	t.Parallel()
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 42))
			l := guard.Limit{Rate: 1 + rng.IntN(5), Per: time.Second, Burst: 1 + rng.IntN(4)}
			maxKeys := 1 + rng.IntN(200)
			keys := 2 + rng.IntN(4*maxKeys)
			clk := fakeclock.New(memT0)
			m := guard.NewMemoryLimiter(l, guard.MaxKeys(maxKeys), guard.WithClock(clk.Now))
			ref := &gcraReference{
				interval: l.Per / time.Duration(l.Rate),
				window:   l.Per / time.Duration(l.Rate) * time.Duration(l.Burst),
				tat:      map[string]time.Duration{},
			}
			// The limiter reads clock, which sometimes steps back; the
			// gcraReference sees latest, the latest time the clock has shown.
			var clock, latest time.Duration
			admitted := 0
			for i := range 20_000 {
				switch x := rng.IntN(100); {
				case x < 30:
					clock += time.Duration(rng.Int64N(int64(200 * time.Millisecond)))
				case x < 31:
					clock -= 2 * time.Second
				}
				latest = max(latest, clock)
				clk.Set(memT0.Add(clock))
				key := fmt.Sprint("k", rng.IntN(keys))
				d, _ := m.Allow(context.Background(), key)
				if !d.Allowed {
					continue
				}
				admitted++
				if !ref.allow(key, latest) {
					t.Fatalf("op %d: Allow(%s) admitted at %v (clock %v), beyond its limit %+v (MaxKeys %d)", i, key, latest, clock, l, maxKeys)
				}
				if n := m.Len(); n > maxKeys {
					t.Fatalf("op %d: Len() = %d; want <= %d", i, n, maxKeys)
				}
			}
			if admitted == 0 {
				t.Fatal("nothing admitted; the test exercised nothing")
			}
		})
	}
}

// TestMemoryLimiterMostLimitedKept checks that a limited key stays limited
// while a flood of newcomers fills the table, and that newcomers who find no
// room share one overflow allowance instead of getting fresh buckets.
func TestMemoryLimiterMostLimitedKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := fakeclock.New(memT0)
	m := guard.NewMemoryLimiter(guard.Limit{Rate: 1, Per: time.Minute, Burst: 1}, guard.MaxKeys(8), guard.WithClock(clk.Now))
	m.Allow(ctx, "limited")
	for i := range 7 {
		clk.Advance(time.Second)
		m.Allow(ctx, fmt.Sprint("k", i))
	}
	// The table is full of active keys: x is charged to the overflow
	// allowance, which y and z then find spent.
	got := []bool{}
	for _, k := range []string{"x", "y", "z"} {
		d, _ := m.Allow(ctx, k)
		got = append(got, d.Allowed)
	}
	if fmt.Sprint(got) != "[true false false]" {
		t.Errorf("newcomers x, y, z allowed = %v; want [true false false] (one shared allowance)", got)
	}
	for i := range 1000 {
		if i%100 == 0 {
			clk.Advance(time.Second) // 10s in all: "limited" is due at 60s
		}
		m.Allow(ctx, fmt.Sprint("flood", i))
		if d, _ := m.Allow(ctx, "limited"); d.Allowed {
			t.Fatalf("flood %d: limited key admitted; want its state kept (or a stricter one)", i)
		}
	}
	if n := m.Len(); n != 8 {
		t.Errorf("Len() = %d; want 8", n)
	}
}

func TestMemoryLimiterClockBackwards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := fakeclock.New(memT0)
	m := guard.NewMemoryLimiter(guard.Limit{Rate: 1, Per: time.Minute, Burst: 2}, guard.WithClock(clk.Now))
	want := func(step string, key string, allowed bool) {
		t.Helper()
		if d, _ := m.Allow(ctx, key); d.Allowed != allowed {
			t.Errorf("%s: Allow(%q) = %+v; want Allowed %v", step, key, d, allowed)
		}
	}
	want("burst 1", "a", true)
	want("burst 2", "a", true)
	want("exhausted", "a", false)
	clk.Advance(-time.Hour)
	want("clock 1h back", "a", false)
	want("clock 1h back, new key", "b", true)
	clk.Advance(-24 * 365 * time.Hour)
	want("clock 1y back", "a", false)
	clk.Set(memT0)
	want("clock restored", "a", false)
	clk.Advance(time.Minute)
	want("one interval later", "a", true)
	want("one interval later, again", "a", false)
}

func TestMemoryLimiterConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := fakeclock.New(memT0)
	m := guard.NewMemoryLimiter(guard.Limit{Rate: 50, Per: time.Hour}, guard.MaxKeys(256), guard.WithClock(clk.Now))
	const goroutines = 16
	var shared atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range 500 {
				if d, _ := m.Allow(ctx, "shared"); d.Allowed {
					shared.Add(1)
				}
				m.Allow(ctx, fmt.Sprintf("g%d-%d", g, i%300))
				if i%100 == 0 {
					clk.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			if n := m.Len(); n > 256 {
				t.Errorf("Len() = %d; want <= 256", n)
			}
		}
	})
	wg.Wait()
	// 80ms of fake time at 50/hour adds nothing to the burst of 50.
	if got := shared.Load(); got != 50 {
		t.Errorf("shared key admitted %d times by %d goroutines; want exactly 50", got, goroutines)
	}
	if n := m.Len(); n > 256 {
		t.Errorf("Len() = %d; want <= 256", n)
	}
}

func TestMemoryLimiterAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	m := guard.NewMemoryLimiter(guard.PerSecond(1e6))
	ctx := context.Background()
	key := strings.Repeat("k", 20)
	m.Allow(ctx, key)
	if n := testing.AllocsPerRun(1000, func() { m.Allow(ctx, key) }); n != 0 {
		t.Errorf("Allow on an existing key: %v allocs; want 0", n)
	}
}

// TestMemoryLimiterBytesPerKey measures the heap used per tracked key beyond
// the key string itself (documented as about 60 bytes; the goal is <= 100).
func TestMemoryLimiterBytesPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("memory measurement")
	}
	perKey := memBytesPerKey(50_000)
	t.Logf("%.1f bytes per tracked key beyond the key string", perKey)
	if perKey > 100 {
		t.Errorf("%.1f bytes per tracked key beyond the key string; want <= 100", perKey)
	}
}

// memBytesPerKey fills a limiter with n 16-byte keys and returns the heap
// growth per key minus the 16 bytes of the key's copy.
func memBytesPerKey(n int) float64 {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%012d", i) // 16 bytes: a 16-byte size class
	}
	ctx := context.Background()
	mp := sdkmetric.NewMeterProvider()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := guard.NewMemoryLimiter(guard.PerSecond(1), guard.MaxKeys(2*n), guard.WithMeterProvider(mp))
	for _, k := range keys {
		m.Allow(ctx, k)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if m.Len() != n {
		panic(fmt.Sprintf("Len() = %d; want %d", m.Len(), n))
	}
	runtime.KeepAlive(m)
	runtime.KeepAlive(keys) // the originals were in "before" too
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n) - 16
}

func TestMemoryLimiterKeysMetric(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	m := guard.NewMemoryLimiter(guard.PerSecond(1), guard.WithMeterProvider(mp))
	for i := range 3 {
		m.Allow(context.Background(), fmt.Sprint(i))
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	g, ok := rlFindMetric(rm, "chassis.ratelimit.keys").(metricdata.Gauge[int64])
	if !ok || len(g.DataPoints) != 1 {
		t.Fatalf("chassis.ratelimit.keys = %+v; want one gauge data point", rlFindMetric(rm, "chassis.ratelimit.keys"))
	}
	dp := g.DataPoints[0]
	if v, _ := dp.Attributes.Value("chassis.limiter"); dp.Value != 3 || v != attribute.StringValue("memory") {
		t.Errorf("chassis.ratelimit.keys = %d {chassis.limiter=%s}; want 3 {chassis.limiter=memory}", dp.Value, v.AsString())
	}
}

func rlFindMetric(rm metricdata.ResourceMetrics, name string) metricdata.Aggregation {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				if sm.Scope.Name != "github.com/chassis-go/chassis/guard" {
					return nil
				}
				return m.Data
			}
		}
	}
	return nil
}
