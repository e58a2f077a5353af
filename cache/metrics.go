package cache

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// scope is the instrumentation scope of the package's metrics.
const scope = "github.com/chassis-go/chassis/cache"

// metrics holds the cache's instruments. Hits, misses, evictions and the
// entry count are kept in the cache's own striped atomics and reported by
// one observable callback, so a Get adds to one uncontended counter instead
// of calling into the SDK; loads are rare and recorded synchronously.
type metrics struct {
	loads, loadErrors              metric.Int64Counter
	attrs                          metric.AddOption
	errPanic, errTimeout, errOther metric.AddOption
	reg                            metric.Registration
}

type counters interface {
	observe(o metric.Observer, m *observables)
	cacheName() string
}

type observables struct {
	hits, misses, evictions metric.Int64ObservableCounter
	entries                 metric.Int64ObservableGauge
	fresh, stale, plain     metric.ObserveOption
	size, expired           metric.ObserveOption
}

func newMetrics(mp metric.MeterProvider, c counters) *metrics {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(scope)
	name := attribute.String("chassis.cache.name", c.cacheName())
	add := func(kv ...attribute.KeyValue) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(append([]attribute.KeyValue{name}, kv...)...))
	}
	m := &metrics{
		attrs:      add(),
		errPanic:   add(attribute.String("error.type", "panic")),
		errTimeout: add(attribute.String("error.type", "timeout")),
		errOther:   add(attribute.String("error.type", "error")),
	}
	var err error
	if m.loads, err = meter.Int64Counter("chassis.cache.loads", metric.WithUnit("{load}"),
		metric.WithDescription("Loads started by GetOrLoad, including background refreshes.")); err != nil {
		otel.Handle(err)
		m.loads = noop.Int64Counter{}
	}
	if m.loadErrors, err = meter.Int64Counter("chassis.cache.load.errors", metric.WithUnit("{error}"),
		metric.WithDescription("Loads that failed, by class; not-found results are not counted.")); err != nil {
		otel.Handle(err)
		m.loadErrors = noop.Int64Counter{}
	}
	o := &observables{
		fresh: add(attribute.String("chassis.cache.state", "fresh")), stale: add(attribute.String("chassis.cache.state", "stale")),
		plain: add(),
		size:  add(attribute.String("chassis.cache.reason", "size")), expired: add(attribute.String("chassis.cache.reason", "expired")),
	}
	errs := []error{}
	var e error
	o.hits, e = meter.Int64ObservableCounter("chassis.cache.hits", metric.WithUnit("{hit}"),
		metric.WithDescription("Lookups answered from the cache, fresh or stale."))
	errs = append(errs, e)
	o.misses, e = meter.Int64ObservableCounter("chassis.cache.misses", metric.WithUnit("{miss}"),
		metric.WithDescription("Lookups that found no usable entry."))
	errs = append(errs, e)
	o.evictions, e = meter.Int64ObservableCounter("chassis.cache.evictions", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries removed to make room (size) or because they had expired (expired)."))
	errs = append(errs, e)
	o.entries, e = meter.Int64ObservableGauge("chassis.cache.entries", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries held now, bounded by MaxEntries."))
	errs = append(errs, e)
	for _, e := range errs {
		if e != nil {
			otel.Handle(e)
			return m
		}
	}
	m.reg, e = meter.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		c.observe(obs, o)
		return nil
	}, o.hits, o.misses, o.evictions, o.entries)
	if e != nil {
		otel.Handle(e)
	}
	return m
}

func (m *metrics) unregister() {
	if m.reg != nil {
		if err := m.reg.Unregister(); err != nil {
			otel.Handle(err)
		}
	}
}

func (c *Cache[K, V]) cacheName() string { return c.name }

// Stats is a snapshot of a cache's counters since [New], the same numbers
// the metrics report, for status pages and tests. Each field is read
// atomically, but not all at the same instant.
type Stats struct {
	Entries    int   `json:"entries"`     // as Len
	Hits       int64 `json:"hits"`        // fresh hits, negative ones included
	StaleHits  int64 `json:"stale_hits"`  // stale values served by GetOrLoad
	Misses     int64 `json:"misses"`      // lookups with no usable entry
	Loads      int64 `json:"loads"`       // loads started, background refreshes included
	LoadErrors int64 `json:"load_errors"` // failed loads (not-found results excluded)
	Evictions  int64 `json:"evictions"`   // entries removed to make room
	Expired    int64 `json:"expired"`     // dead entries removed
}

// Stats returns the cache's counters. It takes no lock.
func (c *Cache[K, V]) Stats() Stats {
	s := Stats{Entries: c.Len(), Loads: c.loads.Load(), LoadErrors: c.loadErrors.Load()}
	for i := range c.stripes {
		st := &c.stripes[i]
		s.Hits += st.hits.Load()
		s.StaleHits += st.stale.Load()
		s.Misses += st.misses.Load()
	}
	for i := range c.shards {
		s.Evictions += c.shards[i].evictedSize.Load()
		s.Expired += c.shards[i].evictedExpired.Load()
	}
	return s
}

func (c *Cache[K, V]) observe(o metric.Observer, m *observables) {
	s := c.Stats()
	o.ObserveInt64(m.hits, s.Hits, m.fresh)
	o.ObserveInt64(m.hits, s.StaleHits, m.stale)
	o.ObserveInt64(m.misses, s.Misses, m.plain)
	o.ObserveInt64(m.evictions, s.Evictions, m.size)
	o.ObserveInt64(m.evictions, s.Expired, m.expired)
	o.ObserveInt64(m.entries, int64(s.Entries), m.plain)
}
