package rediscache_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/chassis-go/chassis/cache"
	"github.com/chassis-go/chassis/cache/rediscache"
	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/internal/redistest"
	"github.com/chassis-go/chassis/testkit"
)

func TestTiers(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		cfg := rediscache.Config[string]{Prefix: b.Prefix, Timeout: 5 * time.Second}
		a := newReplica(t, b.NewClient(t), cfg)
		bb := newReplica(t, b.NewClient(t), cfg)
		var loads atomic.Int64
		load := func(context.Context, string) (string, error) { loads.Add(1); return "v1", nil }
		if v, err := a.GetOrLoad(ctx, "k", load); err != nil || v != "v1" {
			t.Fatalf("A.GetOrLoad = %q, %v; want v1 from load", v, err)
		}
		// B finds it in Redis; A finds it in memory.
		if v, err := bb.GetOrLoad(ctx, "k", mustNotLoad(t)); err != nil || v != "v1" {
			t.Errorf("B.GetOrLoad = %q, %v; want v1 from Redis", v, err)
		}
		if v, err := a.GetOrLoad(ctx, "k", mustNotLoad(t)); err != nil || v != "v1" {
			t.Errorf("A.GetOrLoad again = %q, %v; want v1 from memory", v, err)
		}
		if n := loads.Load(); n != 1 {
			t.Errorf("loads = %d; want 1", n)
		}
		if a.Len() != 1 || bb.Len() != 1 {
			t.Errorf("Len() = %d, %d; want 1, 1", a.Len(), bb.Len())
		}
		if s := a.Stats(); s.RedisMisses != 1 || s.RedisHits != 0 || s.Local.Hits != 1 || s.Local.Loads != 1 || s.Resyncs != 1 {
			t.Errorf("A.Stats() = %+v; want 1 Redis miss, 1 local hit, 1 load, 1 resync", s)
		}
		if s := bb.Stats(); s.RedisHits != 1 || s.RedisErrors != 0 {
			t.Errorf("B.Stats() = %+v; want 1 Redis hit, no errors", s)
		}
	})
}

// TestInvalidation: a Set or Delete on one replica reaches the other's
// local tier.
func TestInvalidation(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		cfg := rediscache.Config[string]{Prefix: b.Prefix, Timeout: 5 * time.Second}
		a := newReplica(t, b.NewClient(t), cfg)
		bb := newReplica(t, b.NewClient(t), cfg)
		for _, r := range []replica{a, bb} {
			if v, err := r.GetOrLoad(ctx, "k", loadValue("v1")); err != nil || v != "v1" {
				t.Fatalf("GetOrLoad = %q, %v; want v1", v, err)
			}
		}
		if err := a.Set(ctx, "k", "v2"); err != nil {
			t.Fatalf("A.Set: %v", err)
		}
		bb.await(t, "invalidate")
		if s := bb.Stats(); s.InvalidationsReceived != 1 || a.Stats().InvalidationsSent != 1 {
			t.Errorf("invalidations received by B = %d, sent by A = %d; want 1, 1", s.InvalidationsReceived, a.Stats().InvalidationsSent)
		}
		if v, err := bb.GetOrLoad(ctx, "k", mustNotLoad(t)); err != nil || v != "v2" {
			t.Errorf("B.GetOrLoad after A.Set(v2) = %q, %v; want v2 from Redis", v, err)
		}
		if v, err := a.GetOrLoad(ctx, "k", mustNotLoad(t)); err != nil || v != "v2" {
			t.Errorf("A.GetOrLoad after its own Set = %q, %v; want v2", v, err)
		}

		if err := bb.Delete(ctx, "k"); err != nil {
			t.Fatalf("B.Delete: %v", err)
		}
		a.await(t, "invalidate")
		// The tombstone makes A load, and keeps the load's result out of
		// Redis: a load racing the Delete cannot resurrect the old value.
		if v, err := a.GetOrLoad(ctx, "k", loadValue("from source")); err != nil || v != "from source" {
			t.Errorf("A.GetOrLoad after B.Delete = %q, %v; want the load's value", v, err)
		}
		raw, err := b.Client.Get(ctx, b.Prefix+"k").Result()
		if err != nil || raw != "t" {
			t.Errorf("Redis value after Delete and a load = %q, %v; want the tombstone %q", raw, err, "t")
		}
	})
}

func TestRedisDownDegradesToLocal(t *testing.T) {
	mr, client := newMini(t)
	reader := sdkmetric.NewManualReader()
	ctx := context.Background()
	clk := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	r := newReplica(t, client, rediscache.Config[string]{
		Local:         cache.Config[string, string]{Clock: clk.Now},
		Prefix:        redistest.NewPrefix(),
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		Logger:        testkit.Logger(t),
	})
	mr.SetError("LOADING Redis is loading the dataset in memory")
	var loads atomic.Int64
	load := func(context.Context, string) (string, error) { loads.Add(1); return "v", nil }
	for range 3 {
		if v, err := r.GetOrLoad(ctx, "k", load); err != nil || v != "v" {
			t.Fatalf("GetOrLoad with Redis failing = %q, %v; want v, nil", v, err)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Errorf("loads = %d; want 1 (the local tier still caches)", n)
	}
	if err := r.Set(ctx, "k2", "set"); err == nil || !strings.HasPrefix(err.Error(), "rediscache: set in Redis") {
		t.Errorf("Set with Redis failing = %v; want a rediscache: set in Redis error", err)
	}
	if v, err := r.GetOrLoad(ctx, "k2", mustNotLoad(t)); err != nil || v != "set" {
		t.Errorf("GetOrLoad after a Set that failed in Redis = %q, %v; want the local value", v, err)
	}
	// Within a second of the failure, lookups skip Redis.
	if v, err := r.GetOrLoad(ctx, "k4", loadValue("v4")); err != nil || v != "v4" {
		t.Errorf("GetOrLoad with Redis paused = %q, %v; want v4, nil", v, err)
	}
	if s := r.Stats(); s.RedisErrors != 2 {
		t.Errorf("Stats().RedisErrors after a lookup while paused = %d; want 2 (a get and a set)", s.RedisErrors)
	}
	clk.Advance(time.Second)
	mr.Close() // now the connection fails too
	if v, err := r.GetOrLoad(ctx, "k3", loadValue("v3")); err != nil || v != "v3" {
		t.Errorf("GetOrLoad with Redis gone = %q, %v; want v3, nil", v, err)
	}
	if got := counts(t, reader, "chassis.rediscache.lookups"); got["chassis.cache.name=default,chassis.cache.result=skipped"] != 1 {
		t.Errorf("chassis.rediscache.lookups = %v; want 1 skipped", got)
	}
	got := counts(t, reader, "chassis.rediscache.errors")
	gets := int64(0)
	for k, n := range got {
		if strings.Contains(k, "op=get,") {
			gets += n
		}
	}
	if got["chassis.cache.name=default,chassis.rediscache.op=get,error.type=server"] != 1 ||
		got["chassis.cache.name=default,chassis.rediscache.op=set,error.type=server"] != 1 || gets != 2 {
		t.Errorf("chassis.rediscache.errors = %v; want 1 get and 1 set with error.type=server, and 2 gets in all", got)
	}
}

func TestUndecodableValue(t *testing.T) {
	mr, client := newMini(t)
	prefix := redistest.NewPrefix()
	ctx := context.Background()
	type user struct{ Name string }
	c := rediscache.New(client, rediscache.Config[user]{Prefix: prefix, Logger: testkit.Logger(t)})
	defer c.Close()
	for _, raw := range []string{"", "x", "v", "v{not json", "v[1,2]", "t"} {
		c.Delete(ctx, "u") // drops the local copy of the previous iteration
		mr.Set(prefix+"u", raw)
		v, err := c.GetOrLoad(ctx, "u", func(context.Context, string) (user, error) { return user{"ada"}, nil })
		if err != nil || v.Name != "ada" {
			t.Errorf("GetOrLoad over stored %q = %+v, %v; want the load's value", raw, v, err)
		}
		// The value stays: another version of the program may have written it.
		if got, _ := mr.Get(prefix + "u"); got != raw {
			t.Errorf("stored value after a failed decode = %q; want %q untouched", got, raw)
		}
	}
}

// TestResubscribeClearsLocal: after the subscription breaks and comes back,
// invalidations may have been missed, so the local tier starts empty.
func TestResubscribeClearsLocal(t *testing.T) {
	mr, client := newMini(t)
	ctx := context.Background()
	r := newReplica(t, client, rediscache.Config[string]{Prefix: redistest.NewPrefix(), Logger: testkit.Logger(t)})
	if _, err := r.GetOrLoad(ctx, "k", loadValue("v")); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 1 {
		t.Fatalf("Len() = %d; want 1", r.Len())
	}
	mr.Close()
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	r.await(t, "subscribe")
	if n := r.Len(); n != 0 {
		t.Errorf("Len() after resubscribing = %d; want 0", n)
	}
}

func TestForeignMessagesAreIgnored(t *testing.T) {
	mr, client := newMini(t)
	prefix := redistest.NewPrefix()
	ctx := context.Background()
	r := newReplica(t, client, rediscache.Config[string]{Prefix: prefix})
	if _, err := r.GetOrLoad(ctx, "k", loadValue("v")); err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"", "k", ":k", "zzzzzzzzzzzzzzzz:k", "0123456789abcdef0:k"} {
		mr.Publish(prefix+"invalidate", msg)
	}
	mr.Publish(prefix+"invalidate", "0123456789abcdef:other")
	r.await(t, "invalidate") // only the well-formed one counts
	if v, err := r.GetOrLoad(ctx, "k", mustNotLoad(t)); err != nil || v != "v" {
		t.Errorf("GetOrLoad after malformed invalidations = %q, %v; want v from memory", v, err)
	}
}

func TestLocalTierOptions(t *testing.T) {
	_, client := newMini(t)
	ctx := context.Background()
	r := newReplica(t, client, rediscache.Config[string]{
		Prefix: redistest.NewPrefix(),
		Local:  cache.Config[string, string]{MaxEntries: 2, NegativeTTL: time.Minute},
	})
	var loads atomic.Int64
	missing := func(context.Context, string) (string, error) { loads.Add(1); return "", cache.ErrNotFound }
	for range 3 {
		if _, err := r.GetOrLoad(ctx, "nobody", missing); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("GetOrLoad of a missing key = %v; want cache.ErrNotFound", err)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Errorf("loads of a missing key = %d; want 1 (negative caching in the local tier)", n)
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		r.GetOrLoad(ctx, k, loadValue(k))
	}
	if n := r.Len(); n > 2 {
		t.Errorf("Len() = %d; want at most Local.MaxEntries = 2", n)
	}
}

func TestNewPanics(t *testing.T) {
	_, client := newMini(t)
	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
		cfg    rediscache.Config[string]
		want   string
	}{
		{"nil client", nil, rediscache.Config[string]{}, "rediscache.New: client is nil"},
		{"negative TTL", client, rediscache.Config[string]{TTL: -1}, "rediscache.New: TTL must not be negative"},
		{"negative Timeout", client, rediscache.Config[string]{Timeout: -1}, "rediscache.New: Timeout must not be negative"},
		{"bad local", client, rediscache.Config[string]{Local: cache.Config[string, string]{MaxEntries: -1}}, "cache.New: MaxEntries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, tc.want) {
					t.Errorf("New(%s) panicked with %q; want prefix %q", tc.name, msg, tc.want)
				}
			}()
			c := rediscache.New(tc.client, tc.cfg)
			c.Close()
		})
	}
}

// TestNilOptions: nil Codec, Logger and MeterProvider mean the defaults.
func TestNilOptions(t *testing.T) {
	_, client := newMini(t)
	r := newReplica(t, client, rediscache.Config[string]{Prefix: redistest.NewPrefix(), Codec: nil, Logger: nil, MeterProvider: nil})
	if v, err := r.GetOrLoad(context.Background(), "k", loadValue("v")); err != nil || v != "v" {
		t.Errorf("GetOrLoad with nil options = %q, %v; want v, nil", v, err)
	}
}

// counts returns the named counter's points, keyed by their attributes.
func counts(t *testing.T, r *sdkmetric.ManualReader, name string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == name {
				for _, p := range s.DataPoints {
					out[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
				}
			}
		}
	}
	return out
}

// failing is a codec that cannot encode "bad".
type failing struct{ rediscache.JSON[string] }

func (failing) Marshal(v string) ([]byte, error) {
	if v == "bad" {
		return nil, errors.New("cannot encode bad")
	}
	return rediscache.JSON[string]{}.Marshal(v)
}

func TestSetUnencodableValue(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		cfg := rediscache.Config[string]{Prefix: b.Prefix, Codec: failing{}, Timeout: 5 * time.Second, Logger: testkit.Logger(t)}
		a := newReplica(t, b.NewClient(t), cfg)
		bb := newReplica(t, b.NewClient(t), cfg)
		if err := a.Set(ctx, "k", "good"); err != nil {
			t.Fatal(err)
		}
		bb.await(t, "invalidate")
		err := a.Set(ctx, "k", "bad")
		if err == nil || !strings.Contains(err.Error(), "rediscache: encoding the value: cannot encode bad") {
			t.Fatalf("Set of an unencodable value = %v; want the encoding error", err)
		}
		bb.await(t, "invalidate")
		// A keeps the value locally; B must not read the old one from Redis.
		if v, err := a.GetOrLoad(ctx, "k", mustNotLoad(t)); err != nil || v != "bad" {
			t.Errorf("A.GetOrLoad = %q, %v; want its local bad", v, err)
		}
		if v, err := bb.GetOrLoad(ctx, "k", loadValue("from source")); err != nil || v != "from source" {
			t.Errorf("B.GetOrLoad = %q, %v; want a load (Redis holds a tombstone, not good)", v, err)
		}
	})
}

// TestKeysSpreadOverCluster: each command touches one key, so keys carry no
// hash tag and spread over every master of a cluster.
func TestKeysSpreadOverCluster(t *testing.T) {
	b := redistest.Cluster(t)
	ctx := context.Background()
	r := newReplica(t, b.NewClient(t), rediscache.Config[string]{Prefix: b.Prefix, Timeout: 5 * time.Second})
	for i := range 100 {
		k := "user-" + strconv.Itoa(i)
		if _, err := r.GetOrLoad(ctx, k, loadValue(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Delete(ctx, "user-0"); err != nil {
		t.Fatal(err)
	}
	redistest.AssertSpread(t, b.Client, b.Prefix+"*")
}

// TestInvalidationAcrossNodes shows an invalidation reaching replicas whose
// subscriptions are on different nodes of a Redis Cluster: each of three
// replicas is connected straight to a different master (a plain client, so
// its subscription cannot follow the channel's slot), and a Set on a fourth
// replica, through a cluster client, invalidates all three. Classic PUBLISH
// is broadcast to every node; sharded pub/sub would not be.
func TestInvalidationAcrossNodes(t *testing.T) {
	b := redistest.Cluster(t)
	ctx := context.Background()
	var addrs []string
	var mu sync.Mutex
	err := b.Client.(*redis.ClusterClient).ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		addrs = append(addrs, c.Options().Addr)
		mu.Unlock()
		return nil
	})
	if err != nil || len(addrs) < 2 {
		t.Fatalf("masters = %v, %v; want at least two", addrs, err)
	}
	cfg := rediscache.Config[string]{Prefix: b.Prefix, Timeout: 5 * time.Second}
	var onNodes []replica
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = c.Close() })
		onNodes = append(onNodes, newReplica(t, c, cfg))
	}
	writer := newReplica(t, b.NewClient(t), cfg)
	if err := writer.Set(ctx, "k", "v"); err != nil {
		t.Fatalf("Set through the cluster client: %v", err)
	}
	for i, r := range onNodes {
		r.await(t, "invalidate")
		if got := r.Stats().InvalidationsReceived; got != 1 {
			t.Errorf("replica subscribed on %s received %d invalidations; want 1", addrs[i], got)
		}
	}
}
