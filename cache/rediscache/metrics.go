package rediscache

import (
	"sync/atomic"

	"github.com/chassis-go/chassis/internal/instrument"

	"github.com/chassis-go/chassis/internal/rediserr"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// scope is the instrumentation scope of the package's metrics.
const scope = "github.com/chassis-go/chassis/cache/rediscache"

var (
	opKey        = attribute.Key("chassis.rediscache.op")
	errorTypeKey = attribute.Key("error.type")
)

// metrics holds the instruments and the attribute sets of the common
// measurements, built once so that recording them allocates nothing.
type metrics struct {
	errors, lookups, sent, received, resyncs metric.Int64Counter

	// The same counts, for Stats.
	redisHits, redisMisses, redisErrors, nSent, nReceived, nResyncs atomic.Int64

	name                          attribute.KeyValue
	attrs                         metric.AddOption
	hit, miss, lookupErr, skipped metric.AddOption
}

func newMetrics(mp metric.MeterProvider, name string) *metrics {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(scope)
	counter := func(name, unit, desc string) metric.Int64Counter {
		return instrument.Int64Counter(meter, name, unit, desc)
	}
	n := attribute.String("chassis.cache.name", name)
	set := func(kv ...attribute.KeyValue) metric.AddOption {
		return metric.WithAttributeSet(attribute.NewSet(append([]attribute.KeyValue{n}, kv...)...))
	}
	result := attribute.Key("chassis.cache.result")
	return &metrics{
		errors: counter("chassis.rediscache.errors", "{error}",
			"Redis calls of the shared cache tier that failed, by operation and bounded class; the request went on without Redis."),
		lookups: counter("chassis.rediscache.lookups", "{lookup}",
			"Lookups in Redis after a local miss, by result."),
		sent: counter("chassis.rediscache.invalidations.sent", "{message}",
			"Invalidations published by Set and Delete."),
		received: counter("chassis.rediscache.invalidations.received", "{message}",
			"Invalidations from other replicas applied to the local tier."),
		resyncs: counter("chassis.rediscache.resyncs", "{resync}",
			"Local tier cleared on (re)subscribing, since invalidations may have been missed."),
		name:      n,
		attrs:     set(),
		hit:       set(result.String("hit")),
		miss:      set(result.String("miss")),
		lookupErr: set(result.String("error")),
		skipped:   set(result.String("skipped")),
	}
}

// errorClass sorts a Redis failure into a bounded class for the
// error.type attribute: timeout, connection, server (Redis answered with
// an error) or other.
func errorClass(err error) string { return rediserr.Class(err) }
