package integration_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/otlptranslator"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/guard/redislimit"
	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/httpkit"
	"github.com/chassis-go/chassis/work"
)

const scopePrefix = "github.com/chassis-go/chassis/"

// Values from requests that no metric attribute may carry: a rate-limit key
// (the client address), a path with an id, a query string.
var forbiddenInAttrs = []string{"203.0.113.", "/users/42", "token", "secret"}

// TestMetricInventory records every instrument of docs/metrics.md through
// MeterProviders passed explicitly to each package, then checks the
// collected metrics against the document, row by row: name, kind, unit,
// attribute keys and values, instrumentation scope and Prometheus name. It
// fails when the code and the document diverge in either direction.
func TestMetricInventory(t *testing.T) {
	rows := parseMetricsDoc(t, "../../docs/metrics.md")

	reader := sdkmetric.NewManualReader()
	reg := prometheus.NewRegistry()
	prom, err := promexporter.New(
		promexporter.WithRegisterer(reg),
		promexporter.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
	)
	if err != nil {
		t.Fatalf("prometheus.New() err = %v", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithReader(prom))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })

	exerciseGuard(t, mp, reader)
	exerciseCall(t, mp)
	exerciseWork(t, mp)
	exerciseHealth(t, mp)
	exerciseGRPC(t, mp)
	exerciseCache(t, mp)
	exerciseRedisCache(t, mp)
	exerciseTick(t, mp)
	exerciseFlags(t, mp)
	exerciseOverload(t, mp)
	exerciseGRPCClient(t, mp, reader)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("ManualReader.Collect() err = %v", err)
	}
	type found struct {
		scope string
		m     metricdata.Metrics
	}
	byName := map[string][]found{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			byName[m.Name] = append(byName[m.Name], found{sm.Scope.Name, m})
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("prometheus Gather() err = %v", err)
	}
	promNames := map[string]bool{}
	for _, f := range families {
		promNames[f.GetName()] = true
	}

	documented := map[string]map[string]bool{} // name -> scopes the doc names
	for _, row := range rows {
		if documented[row.name] == nil {
			documented[row.name] = map[string]bool{}
		}
		for _, p := range row.packages {
			documented[row.name][scopePrefix+p] = true
		}
		t.Run(row.name, func(t *testing.T) {
			got := byName[row.name]
			if len(got) == 0 {
				t.Fatalf("docs/metrics.md:%d: %s: no such metric collected (have %v)", row.line, row.name, sortedKeys(byName))
			}
			if !row.semconv {
				for _, p := range row.packages {
					scope := scopePrefix + p
					if !slices.ContainsFunc(got, func(f found) bool { return f.scope == scope }) {
						t.Errorf("docs/metrics.md:%d: %s: not recorded under scope %s (recorded under %v)", row.line, row.name, scope, scopesOf(got, func(f found) string { return f.scope }))
					}
				}
			}
			if row.prom != "" && !promNames[row.prom] {
				t.Errorf("docs/metrics.md:%d: Prometheus name %s not served (have %v)", row.line, row.prom, similar(promNames, row.name))
			}
			for _, f := range got {
				m := f.m
				if kind := kindOf(m.Data); kind != row.kind {
					t.Errorf("%s (scope %s) kind = %s; want %s (docs/metrics.md:%d)", row.name, f.scope, kind, row.kind, row.line)
				}
				if m.Unit != row.unit {
					t.Errorf("%s (scope %s) unit = %q; want %q (docs/metrics.md:%d)", row.name, f.scope, m.Unit, row.unit, row.line)
				}
				sets := attrSets(m.Data)
				for _, set := range sets {
					t.Logf("%s %s {%s}", f.scope, row.name, set.Encoded(attribute.DefaultEncoder()))
				}
				if len(sets) == 0 {
					t.Errorf("%s (scope %s) has no data points; want at least one", row.name, f.scope)
				}
				var problems []string // deduplicated across data points
				for _, set := range sets {
					for _, p := range checkAttrs(row, f.scope, set) {
						if !slices.Contains(problems, p) {
							problems = append(problems, p)
						}
					}
				}
				for _, p := range problems {
					t.Error(p)
				}
				// An optional attribute must still be recorded somewhere,
				// or the exercise does not show what the doc says.
				for _, a := range row.attrs {
					if a.optional && !row.semconv && !slices.ContainsFunc(sets, func(s attribute.Set) bool { return s.HasValue(attribute.Key(a.key)) }) {
						t.Errorf("%s (scope %s) optional attribute %s is never recorded; exercise it (docs/metrics.md:%d)", row.name, f.scope, a.key, row.line)
					}
				}
			}
		})
	}

	// The other direction: every chassis instrument must be documented,
	// under the scope that records it.
	for name, fs := range byName {
		for _, f := range fs {
			if !strings.HasPrefix(f.scope, scopePrefix) {
				continue
			}
			switch {
			case documented[name] == nil:
				t.Errorf("%s (scope %s) is recorded but not in docs/metrics.md", name, f.scope)
			case !documented[name][f.scope] && !isSemconv(rows, name):
				t.Errorf("%s is recorded under scope %s, which docs/metrics.md does not list for it (package column: %v)", name, f.scope, sortedKeys(documented[name]))
			}
		}
	}
}

func isSemconv(rows []docRow, name string) bool {
	return slices.ContainsFunc(rows, func(r docRow) bool { return r.name == name && r.semconv })
}

// checkAttrs checks one data point's attributes against the row: exactly
// the documented keys for chassis instruments (a subset for the
// semantic-convention ones, whose attributes depend on the outcome), values
// among the documented ones, and no value taken from a request.
func checkAttrs(row docRow, scope string, set attribute.Set) []string {
	var (
		problems []string
		keys     []string
	)
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, kv := range set.ToSlice() {
		keys = append(keys, string(kv.Key))
		v := kv.Value.String()
		for _, bad := range forbiddenInAttrs {
			if strings.Contains(v, bad) {
				errorf("%s (scope %s) attribute %s = %q; want no value from the request (%q)", row.name, scope, kv.Key, v, bad)
			}
		}
		i := slices.IndexFunc(row.attrs, func(a docAttr) bool { return a.key == string(kv.Key) })
		if i < 0 {
			errorf("%s (scope %s) attribute %s = %q is not documented (docs/metrics.md:%d lists %v)", row.name, scope, kv.Key, v, row.line, row.keys())
			continue
		}
		if vals := row.attrs[i].values; len(vals) > 0 && !slices.Contains(vals, v) {
			errorf("%s (scope %s) attribute %s = %q; want one of %v (docs/metrics.md:%d)", row.name, scope, kv.Key, v, vals, row.line)
		}
	}
	if row.semconv {
		return problems
	}
	// Every documented key but the optional ones, and no other.
	required := row.requiredKeys()
	extra := slices.ContainsFunc(keys, func(k string) bool { return !slices.Contains(row.keys(), k) })
	missing := slices.ContainsFunc(required, func(k string) bool { return !slices.Contains(keys, k) })
	if extra || missing { // set.ToSlice is sorted by key
		var want []string
		for _, a := range row.attrs {
			if a.optional {
				want = append(want, a.key+" (optional)")
			} else {
				want = append(want, a.key)
			}
		}
		sort.Strings(want)
		errorf("%s (scope %s) attribute keys = %v; want %v (docs/metrics.md:%d)", row.name, scope, keys, want, row.line)
	}
	return problems
}

// kindOf names the instrument kind that produced data, as the doc does.
func kindOf(data metricdata.Aggregation) string {
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		if d.IsMonotonic {
			return "Int64Counter"
		}
		return "Int64UpDownCounter"
	case metricdata.Sum[float64]:
		if d.IsMonotonic {
			return "Float64Counter"
		}
		return "Float64UpDownCounter"
	case metricdata.Gauge[int64]:
		return "Int64ObservableGauge" // the SDK reports synchronous gauges the same way
	case metricdata.Gauge[float64]:
		return "Float64ObservableGauge"
	case metricdata.Histogram[int64]:
		return "Int64Histogram"
	case metricdata.Histogram[float64]:
		return "Float64Histogram"
	default:
		return fmt.Sprintf("%T", data)
	}
}

func attrSets(data metricdata.Aggregation) []attribute.Set {
	var sets []attribute.Set
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Sum[float64]:
		for _, p := range d.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Histogram[int64]:
		for _, p := range d.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			sets = append(sets, p.Attributes)
		}
	}
	return sets
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func scopesOf[T any](xs []T, f func(T) string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

// similar lists the Prometheus names sharing the instrument's first two
// name parts, for failure messages.
func similar(names map[string]bool, otelName string) []string {
	parts := strings.SplitN(otelName, ".", 3)
	prefix := strings.Join(parts[:min(2, len(parts))], "_")
	var out []string
	for _, n := range sortedKeys(names) {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// loopback is the trusted proxy of the test servers, so that ClientIP reads
// X-Forwarded-For: the client address is then a documentation address that
// must never show up in metrics.
var loopback = netip.MustParsePrefix("127.0.0.0/8")

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// exerciseGuard records the guard, guard/redislimit and httpkit instruments.
func exerciseGuard(t *testing.T, mp *sdkmetric.MeterProvider, reader sdkmetric.Reader) {
	t.Helper()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	key := guard.ClientIP(loopback)

	// Memory limiter: allowed, then denied; the gauge counts its key.
	memory := guard.NewMemoryLimiter(guard.Limit{Rate: 1, Per: time.Hour, Burst: 1}, guard.WithMeterProvider(mp))
	rlMemory := guard.RateLimit(guard.RateLimitConfig{Limiter: memory, Key: key, MeterProvider: mp, Logger: discardLogger()})

	// Redis limiter: allowed, denied by Redis, denied from the deny cache,
	// then Redis goes away: a connection error, a degraded decision and a
	// rate-limit decision "error".
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	redisLimiter := redislimit.New(rdb, guard.Limit{Rate: 1, Per: time.Hour, Burst: 1},
		redislimit.WithMeterProvider(mp), redislimit.WithTimeout(patience))
	rlRedis := guard.RateLimit(guard.RateLimitConfig{Limiter: redisLimiter, Key: key, MeterProvider: mp, Logger: discardLogger()})

	// Timeout: handlers that ignore their context until release is closed,
	// so each deadline is reached for sure and each handler is still running
	// when Timeout checks for overruns. The "after" handler's deadline is a
	// context that the handler itself expires once its response has started,
	// so that no scheduling delay can turn the abort into a 504.
	release := make(chan struct{})
	var released bool
	releaseAll := func() {
		if !released {
			released = true
			close(release)
		}
	}
	t.Cleanup(releaseAll)
	timeout := guard.Timeout(20*time.Millisecond, guard.WithMeterProvider(mp), guard.WithLogger(discardLogger()))
	before := timeout(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	var afterCtx *expirableCtx
	afterTimeout := guard.Timeout(time.Hour, guard.WithMeterProvider(mp), guard.WithLogger(discardLogger()))
	afterInner := afterTimeout(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "partial")
		_ = http.NewResponseController(w).Flush()
		afterCtx.expire() // the deadline passes after the response started
		<-release
	}))
	after := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		afterCtx = newExpirableCtx(r.Context())
		afterInner.ServeHTTP(w, r.WithContext(afterCtx))
	})

	maxBody := guard.MaxBody(8, guard.WithMeterProvider(mp))(ok)
	ipFilter := guard.IPFilter(guard.IPFilterConfig{
		Deny: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}, Key: key,
		MeterProvider: mp, Logger: discardLogger(),
	})(ok)

	mux := http.NewServeMux()
	mux.Handle("GET /rl/memory", rlMemory(ok))
	mux.Handle("GET /rl/redis", rlRedis(ok))
	mux.Handle("GET /timeout/before", before)
	mux.Handle("GET /timeout/after", after)
	mux.Handle("POST /maxbody", maxBody)
	mux.Handle("GET /ipfilter", ipFilter)
	mux.Handle("GET /users/{id}", ok)
	srv := httptest.NewServer(httpkit.Tracing(httpkit.WithMeterProvider(mp))(mux))
	t.Cleanup(srv.Close)
	c := srv.Client()

	xff := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	expect := func(method, path string, body io.Reader, want int, hdr ...string) {
		t.Helper()
		resp, _ := send(t, c, method, srv.URL+path, body, hdr...)
		if resp.StatusCode != want {
			t.Errorf("%s %s status = %d; want %d", method, path, resp.StatusCode, want)
		}
	}
	expect("GET", "/rl/memory", nil, 200, xff("203.0.113.7")...)
	expect("GET", "/rl/memory", nil, 429, xff("203.0.113.7")...)
	expect("GET", "/rl/redis", nil, 200, xff("203.0.113.7")...)
	expect("GET", "/rl/redis", nil, 429, xff("203.0.113.7")...)
	expect("GET", "/rl/redis", nil, 429, xff("203.0.113.7")...) // deny cache
	mr.Close()
	expect("GET", "/rl/redis", nil, 200, xff("203.0.113.8")...) // fails open
	expect("GET", "/timeout/before", nil, http.StatusGatewayTimeout)
	expect("POST", "/maxbody", strings.NewReader("0123456789abcdef"), http.StatusRequestEntityTooLarge)
	expect("GET", "/ipfilter", nil, http.StatusForbidden, xff("203.0.113.7")...)
	expect("GET", "/users/42?token=secret", nil, 200)

	// The response has started when the deadline passes: the transfer is
	// aborted, which the client sees as a failed body read.
	resp, err := c.Get(srv.URL + "/timeout/after")
	if err != nil {
		t.Fatalf("GET /timeout/after err = %v", err)
	}
	_, err = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err == nil {
		t.Errorf("GET /timeout/after: reading body err = nil; want an aborted transfer")
	}

	// Both handlers are still running a second after Timeout gave up on
	// them: two overruns, counted by Timeout's timer; only then are they
	// released.
	eventually(t, "chassis.timeout.overruns to count both handlers", func() bool {
		return collectedSum(t, reader, "chassis.timeout.overruns") == 2
	})
	releaseAll()
}

// expirableCtx is a request context whose deadline passes when the test
// calls expire: Err then reports context.DeadlineExceeded, as when a real
// deadline passes, but at the moment the test chooses.
type expirableCtx struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newExpirableCtx(parent context.Context) *expirableCtx {
	return &expirableCtx{Context: parent, done: make(chan struct{})}
}

func (c *expirableCtx) Done() <-chan struct{} { return c.done }
func (c *expirableCtx) expire()               { c.once.Do(func() { close(c.done) }) }
func (c *expirableCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// collectedSum returns the sum of the int64 counter name over all its data
// points, as reader collects it now.
func collectedSum(t *testing.T, reader sdkmetric.Reader, name string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("ManualReader.Collect() err = %v", err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == name {
				for _, p := range s.DataPoints {
					n += p.Value
				}
			}
		}
	}
	return n
}

// exerciseCall records the call instruments (a retry, an exhausted retry
// budget, breaker transitions and a rejection, a hedge) and
// http.client.request.duration.
func exerciseCall(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	var flaky atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /flaky/{id}", func(w http.ResponseWriter, r *http.Request) {
		if flaky.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
	})
	// The first request to /slow never answers (until the client gives up
	// on it), so a hedging client sends a hedge, which is answered.
	var slowCalls atomic.Int32
	unblock := make(chan struct{})
	mux.HandleFunc("GET /slow/{id}", func(w http.ResponseWriter, r *http.Request) {
		if slowCalls.Add(1) == 1 {
			select {
			case <-r.Context().Done():
			case <-unblock:
			}
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(unblock) }) // before srv.Close, which waits for handlers
	fast := call.WithRetry(call.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})

	do := func(c *call.Client, path string) (*http.Response, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		return resp, err
	}

	retrying := call.New(call.WithMeterProvider(mp), fast, call.WithRetryBudget(call.RetryBudget{Unlimited: true}))
	t.Cleanup(retrying.CloseIdleConnections)
	if resp, err := do(retrying, "/flaky/42?token=secret"); err != nil || resp.StatusCode != 200 {
		t.Errorf("retrying GET /flaky/42 = %v, %v; want 200 after one retry", resp, err)
	}

	budgetless := call.New(call.WithMeterProvider(mp), fast, call.WithRetryBudget(call.RetryBudget{Ratio: -1, MinPerSecond: -1}))
	t.Cleanup(budgetless.CloseIdleConnections)
	if resp, err := do(budgetless, "/status/503"); err != nil || resp.StatusCode != 503 {
		t.Errorf("GET /status/503 with no retry budget = %v, %v; want 503 without retry", resp, err)
	}

	breaking := call.New(call.WithMeterProvider(mp), call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 1}))
	t.Cleanup(breaking.CloseIdleConnections)
	if resp, err := do(breaking, "/status/500"); err != nil || resp.StatusCode != 500 {
		t.Errorf("GET /status/500 = %v, %v; want 500", resp, err)
	}
	if _, err := do(breaking, "/status/500"); !errors.Is(err, call.ErrCircuitOpen) {
		t.Errorf("GET /status/500 after a failure err = %v; want call.ErrCircuitOpen", err)
	}

	hedging := call.New(call.WithMeterProvider(mp), call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
		call.WithRetryBudget(call.RetryBudget{Unlimited: true}), call.WithHedge(call.HedgePolicy{Delay: time.Millisecond}))
	t.Cleanup(hedging.CloseIdleConnections)
	if resp, err := do(hedging, "/slow/42"); err != nil || resp.StatusCode != 200 {
		t.Errorf("hedged GET /slow/42 = %v, %v; want 200 from the hedge", resp, err)
	}
}

// exerciseWork records chassis.work.inflight for Map, All and Stream. Race
// takes no options and records through the global MeterProvider only.
func exerciseWork(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	ctx := context.Background()
	opt := work.WithMeterProvider(mp)
	if _, err := work.Map(ctx, []int{1, 2, 3}, func(_ context.Context, i int) (int, error) { return i, nil }, opt); err != nil {
		t.Errorf("work.Map() err = %v", err)
	}
	noop := func(context.Context) error { return nil }
	if err := work.All(ctx, []func(context.Context) error{noop, noop}, opt); err != nil {
		t.Errorf("work.All() err = %v", err)
	}
	in := make(chan int, 2)
	in <- 1
	in <- 2
	close(in)
	n := 0
	for r := range work.Stream(ctx, in, func(_ context.Context, i int) (int, error) { return i, nil }, opt) {
		if r.Err != nil {
			t.Errorf("work.Stream() item %d err = %v", r.Index, r.Err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("work.Stream() results = %d; want 2", n)
	}
}

// exerciseHealth records chassis.health.check.duration, up and down.
func exerciseHealth(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	checker := health.New(health.WithMeterProvider(mp))
	checker.Add("db", func(context.Context) error { return nil })
	checker.Add("cache", func(context.Context) error { return errors.New("down") }, health.NonCritical())
	if rep := checker.Run(context.Background()); len(rep.Checks) != 2 {
		t.Errorf("Checker.Run() checks = %d; want 2", len(rep.Checks))
	}
}

// exerciseGRPC records the otelgrpc server and client metrics and grpckit's
// own rate-limit decisions, calling the standard health service.
func exerciseGRPC(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	limiter := guard.NewMemoryLimiter(guard.Limit{Rate: 1, Per: time.Hour, Burst: 1})
	srv := grpc.NewServer(grpckit.ServerOptions(discardLogger(),
		grpckit.WithMeterProvider(mp),
		grpckit.WithRateLimit(grpckit.RateLimitConfig{
			Limiter: limiter, Key: grpckit.KeyFromMetadata("x-client"),
			Exempt: func(string) bool { return false }, // health is exempt by default; charge it here
		}),
	)...)
	checker := health.New()
	grpckit.RegisterHealth(srv, checker)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() err = %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})

	conn, err := grpc.NewClient(lis.Addr().String(), append(grpckit.DialOptions(grpckit.WithMeterProvider(mp)),
		grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatalf("grpc.NewClient() err = %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	hc := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "x-client", "203.0.113.7")
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("Health.Check() err = %v; want a response", err)
	}
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("second Health.Check() err = %v; want ResourceExhausted", err)
	}
}
