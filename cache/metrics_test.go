package cache_test

import (
	"errors"
	"fmt"

	"context"
	"github.com/chassis-go/chassis/cache"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

type reader struct{ r *sdkmetric.ManualReader }

func newReader() reader { return reader{sdkmetric.NewManualReader()} }

func (r reader) provider() metric.MeterProvider {
	return sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.r))
}

// points returns the data points of the named instrument, keyed by their
// attributes' encoding.
func (r reader) points(t testing.TB, name string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
				}
			}
		}
	}
	return out
}

func (r reader) sum(t testing.TB, name string) int64 {
	var s int64
	for _, v := range r.points(t, name) {
		s += v
	}
	return s
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	r := newReader()
	c := cache.New(cache.Config[int, int]{Name: "users", MaxEntries: 10, MeterProvider: r.provider()})
	for i := range 15 {
		c.Set(i, i)
	}
	c.Get(14)
	c.Get(14)
	c.Get(100)
	ctx := context.Background()
	c.GetOrLoad(ctx, 14, func(context.Context, int) (int, error) { return 0, nil })
	c.GetOrLoad(ctx, 200, func(context.Context, int) (int, error) { return 1, nil })
	c.GetOrLoad(ctx, 300, func(context.Context, int) (int, error) { return 0, errors.New("boom") })
	c.GetOrLoad(ctx, 301, func(context.Context, int) (int, error) { panic("boom") })
	c.GetOrLoad(ctx, 302, func(context.Context, int) (int, error) { return 0, cache.ErrNotFound })
	name := `chassis.cache.name=users`
	for _, tc := range []struct {
		metric string
		want   map[string]int64
	}{
		{"chassis.cache.hits", map[string]int64{name + ",chassis.cache.state=fresh": 3, name + ",chassis.cache.state=stale": 0}},
		{"chassis.cache.misses", map[string]int64{name: 5}},
		{"chassis.cache.loads", map[string]int64{name: 4}},
		{"chassis.cache.load.errors", map[string]int64{name + ",error.type=error": 1, name + ",error.type=panic": 1}},
		{"chassis.cache.evictions", map[string]int64{name + ",chassis.cache.reason=size": 6, name + ",chassis.cache.reason=expired": 0}},
		{"chassis.cache.entries", map[string]int64{name: 10}},
	} {
		got := r.points(t, tc.metric)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s = %v; want %v", tc.metric, got, tc.want)
		}
	}
	want := cache.Stats{Entries: 10, Hits: 3, Misses: 5, Loads: 4, LoadErrors: 2, Evictions: 6}
	if got := c.Stats(); got != want {
		t.Errorf("Stats() = %+v; want %+v", got, want)
	}
	c.Close()
	if got := r.points(t, "chassis.cache.entries"); len(got) != 0 {
		t.Errorf("chassis.cache.entries after Close = %v; want no points (callback unregistered)", got)
	}
}
