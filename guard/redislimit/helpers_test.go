package redislimit_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/internal/redistest"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/chassis-go/chassis/guard/redislimit"
)

// patient is the timeout of tests that are not about timeouts: miniredis
// runs each script in a new Lua state, which under -race on a loaded machine
// can take far longer than the default 50ms.
var patient = redislimit.WithTimeout(10 * time.Second)

// start is the fake clocks' starting time: whole microseconds, as Redis TIME.
var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newMini starts a miniredis and a client for it; both are closed at
// cleanup. edit, if given, changes the client's options first.
func newMini(t testing.TB, edit ...func(*redis.Options)) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	mr := miniredis.RunT(t)
	opt := &redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true}
	for _, e := range edit {
		e(opt)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return mr, c
}

// newReal returns a client for the Redis at CHASSIS_REDIS_ADDR and a unique
// key prefix, or skips (fails under CI=true). Keys with the prefix are
// deleted at cleanup.
func newReal(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	b := redistest.Single(t)
	return b.Client, b.Prefix
}

// forEachBackend runs f against miniredis, the real Redis at
// CHASSIS_REDIS_ADDR and the real Redis Cluster at
// CHASSIS_REDIS_CLUSTER_ADDRS, each with its own client and key prefix.
func forEachBackend(t *testing.T, f func(t *testing.T, c redis.UniversalClient, prefix string)) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) { f(t, b.Client, b.Prefix) })
}

// scriptCalls counts the EVALSHA and EVAL commands a client sends.
type scriptCalls struct {
	evalsha, eval atomic.Int64
	// before, if set, runs before each script command is sent.
	before func()
}

func countScripts(c redis.UniversalClient) *scriptCalls {
	h := &scriptCalls{}
	c.AddHook(h)
	return h
}

func (h *scriptCalls) total() int64 { return h.evalsha.Load() + h.eval.Load() }

func (h *scriptCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *scriptCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		switch strings.ToLower(cmd.Name()) {
		case "evalsha":
			h.evalsha.Add(1)
		case "eval":
			h.eval.Add(1)
		default:
			return next(ctx, cmd)
		}
		if h.before != nil {
			h.before()
		}
		return next(ctx, cmd)
	}
}

func (h *scriptCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// counters reads every Int64 sum of reader, keyed by "name" or
// "name{attr=value}" for data points with one attribute.
func counters(t testing.TB, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect() = %v", err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				name := m.Name
				for _, kv := range dp.Attributes.ToSlice() {
					name += "{" + string(kv.Key) + "=" + kv.Value.String() + "}"
				}
				out[name] += dp.Value
			}
		}
	}
	return out
}

// noRetries makes a client fail at the first error instead of retrying
// commands, and retry refused dials only once, after 1ms.
func noRetries(o *redis.Options) {
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.DialerRetryTimeout = time.Millisecond
}

// meter returns a MeterProvider whose counters counters(t, reader) reads.
func meter(t testing.TB) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp, reader
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
