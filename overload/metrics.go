package overload

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// scope is the instrumentation scope of the package's metrics.
const scope = "github.com/chassis-go/chassis/overload"

// metrics reports the limiter's state through one observable callback: the
// admit and done paths only touch the limiter's own atomics, never the SDK.
type metrics struct {
	once sync.Once
	reg  metric.Registration
}

func newMetrics(mp metric.MeterProvider, l *Limiter) *metrics {
	m := &metrics{}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(scope)
	name := attribute.String("chassis.overload.name", l.name)
	plain := metric.WithAttributeSet(attribute.NewSet(name))
	var byKind [numReasons][numPriorities]metric.ObserveOption
	for r := range numReasons {
		for i := range numPriorities {
			byKind[r][i] = metric.WithAttributeSet(attribute.NewSet(name,
				attribute.String("chassis.overload.reason", Reason(r).String()),
				attribute.String("chassis.priority", Priority(i-1).String())))
		}
	}
	limit, e1 := meter.Int64ObservableGauge("chassis.overload.limit", metric.WithUnit("{request}"),
		metric.WithDescription("Current concurrency limit of the overload limiter."))
	inflight, e2 := meter.Int64ObservableGauge("chassis.overload.inflight", metric.WithUnit("{request}"),
		metric.WithDescription("Work admitted by the overload limiter and not yet done."))
	queued, e3 := meter.Int64ObservableGauge("chassis.overload.queued", metric.WithUnit("{request}"),
		metric.WithDescription("Callers waiting in the overload limiter's queue."))
	rejections, e4 := meter.Int64ObservableCounter("chassis.overload.rejections", metric.WithUnit("{request}"),
		metric.WithDescription("Work refused by the overload limiter, by reason and priority."))
	for _, err := range []error{e1, e2, e3, e4} {
		if err != nil {
			otel.Handle(err)
			return m
		}
	}
	reg, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(limit, l.limit.Load(), plain)
		o.ObserveInt64(inflight, l.inflight.Load(), plain)
		o.ObserveInt64(queued, l.queued.Load(), plain)
		for r := range numReasons {
			for i := range numPriorities {
				o.ObserveInt64(rejections, l.rejected[r][i].Load(), byKind[r][i])
			}
		}
		return nil
	}, limit, inflight, queued, rejections)
	if err != nil {
		otel.Handle(err)
		return m
	}
	m.reg = reg
	return m
}

func (m *metrics) unregister() {
	m.once.Do(func() {
		if m.reg != nil {
			if err := m.reg.Unregister(); err != nil {
				otel.Handle(err)
			}
		}
	})
}
