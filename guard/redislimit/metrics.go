package redislimit

import (
	"context"
	"errors"

	"github.com/chassis-go/chassis/internal/instrument"

	"github.com/chassis-go/chassis/internal/rediserr"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// scope is the instrumentation scope of the package's metrics.
const scope = "github.com/chassis-go/chassis/guard/redislimit"

// metrics holds the instruments with pre-built attribute sets, so that
// recording allocates nothing.
type metrics struct {
	errors   metric.Int64Counter
	degraded metric.Int64Counter
	hits     metric.Int64Counter

	errTimeout, errConnection, errScript, errOther []metric.AddOption
	mode                                           []metric.AddOption
}

func newMetrics(mp metric.MeterProvider, mode DegradedMode) *metrics {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(scope)
	counter := func(name, unit, desc string) metric.Int64Counter {
		return instrument.Int64Counter(meter, name, unit, desc)
	}
	set := func(k, v string) []metric.AddOption {
		return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(k, v)))}
	}
	return &metrics{
		errors: counter("chassis.redislimit.errors", "{error}",
			"Redis calls of the rate limiter that failed, by bounded class."),
		degraded: counter("chassis.redislimit.degraded", "{decision}",
			"Rate limit decisions made without Redis, by the configured degraded mode."),
		hits: counter("chassis.redislimit.deny_cache.hits", "{hit}",
			"Denials answered from the local deny cache without a Redis round trip."),
		errTimeout:    set("error.type", "timeout"),
		errConnection: set("error.type", "connection"),
		errScript:     set("error.type", "script"),
		errOther:      set("error.type", "other"),
		mode:          set("chassis.degraded_mode", mode.attr()),
	}
}

// countError counts err on chassis.redislimit.errors under its class.
func (m *metrics) countError(ctx context.Context, err error) {
	var opts []metric.AddOption
	switch errorClass(err) {
	case "timeout":
		opts = m.errTimeout
	case "connection":
		opts = m.errConnection
	case "script":
		opts = m.errScript
	default:
		opts = m.errOther
	}
	m.errors.Add(ctx, 1, opts...)
}

// errorClass sorts a failed Redis call into the bounded error.type values:
// rediserr's classes, with "script" for a server that answered, with an
// error or with a reply the script never returns.
func errorClass(err error) string {
	if errors.Is(err, errReply) {
		return "script"
	}
	if c := rediserr.Class(err); c != rediserr.Server {
		return c
	}
	return "script"
}
