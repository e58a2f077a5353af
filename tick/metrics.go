package tick

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// scope is the instrumentation scope of the package's metrics.
const scope = "github.com/chassis-go/chassis/tick"

// Failure classes, the error.type attribute of chassis.tick.failures.
const (
	failError     = "error"
	failPanic     = "panic"
	failTimeout   = "timeout"
	failLeaseLost = "lease_lost"
	failLock      = "lock"
)

// Reasons for a skipped tick, the chassis.tick.reason attribute.
const (
	skipOverrun = "overrun"
	skipBackoff = "backoff"
	skipLocked  = "locked"
)

// Run outcomes, the chassis.tick.outcome attribute of the duration.
const (
	outcomeSuccess  = "success"
	outcomeFailure  = "failure"
	outcomeCanceled = "canceled"
)

// metrics holds one job's instruments and pre-built attribute sets, so that
// recording allocates nothing.
type metrics struct {
	meter    metric.Meter
	runs     metric.Int64Counter
	failures metric.Int64Counter
	skipped  metric.Int64Counter
	duration metric.Float64Histogram
	age      metric.Float64ObservableGauge

	job      metric.MeasurementOption
	failOpts map[string]metric.AddOption
	skipOpts map[string]metric.AddOption
	outOpts  map[string]metric.RecordOption
}

func newMetrics(mp metric.MeterProvider, name string) *metrics {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := &metrics{meter: mp.Meter(scope)}
	var err error
	handle := func(e error) {
		if e != nil {
			otel.Handle(e)
			err = e
		}
	}
	var e error
	m.runs, e = m.meter.Int64Counter("chassis.tick.runs", metric.WithUnit("{run}"),
		metric.WithDescription("Runs of scheduled jobs started."))
	handle(e)
	m.failures, e = m.meter.Int64Counter("chassis.tick.failures", metric.WithUnit("{run}"),
		metric.WithDescription("Ticks of scheduled jobs that failed, by error class."))
	handle(e)
	m.skipped, e = m.meter.Int64Counter("chassis.tick.skipped", metric.WithUnit("{tick}"),
		metric.WithDescription("Ticks of scheduled jobs passed over without a run, by reason."))
	handle(e)
	m.duration, e = m.meter.Float64Histogram("chassis.tick.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of scheduled job runs."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600))
	handle(e)
	m.age, e = m.meter.Float64ObservableGauge("chassis.tick.last_success.age", metric.WithUnit("s"),
		metric.WithDescription("Time since the job's last successful run (since Run started if none yet)."))
	handle(e)
	if err != nil {
		nm := noop.NewMeterProvider().Meter(scope)
		m.meter = nm
		m.runs, _ = nm.Int64Counter("chassis.tick.runs")
		m.failures, _ = nm.Int64Counter("chassis.tick.failures")
		m.skipped, _ = nm.Int64Counter("chassis.tick.skipped")
		m.duration, _ = nm.Float64Histogram("chassis.tick.duration")
		m.age, _ = nm.Float64ObservableGauge("chassis.tick.last_success.age")
	}

	jobAttr := attribute.String("chassis.job", name)
	m.job = metric.WithAttributeSet(attribute.NewSet(jobAttr))
	m.failOpts = map[string]metric.AddOption{}
	for _, k := range []string{failError, failPanic, failTimeout, failLeaseLost, failLock} {
		m.failOpts[k] = metric.WithAttributeSet(attribute.NewSet(jobAttr, attribute.String("error.type", k)))
	}
	m.skipOpts = map[string]metric.AddOption{}
	for _, r := range []string{skipOverrun, skipBackoff, skipLocked} {
		m.skipOpts[r] = metric.WithAttributeSet(attribute.NewSet(jobAttr, attribute.String("chassis.tick.reason", r)))
	}
	m.outOpts = map[string]metric.RecordOption{}
	for _, o := range []string{outcomeSuccess, outcomeFailure, outcomeCanceled} {
		m.outOpts[o] = metric.WithAttributeSet(attribute.NewSet(jobAttr, attribute.String("chassis.tick.outcome", o)))
	}
	return m
}

// observeAge registers the callback of the last-success age gauge for the
// time Run runs; the caller unregisters it when Run returns.
func (m *metrics) observeAge(age func() (time.Duration, bool)) metric.Registration {
	reg, err := m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if d, ok := age(); ok {
			o.ObserveFloat64(m.age, d.Seconds(), m.job)
		}
		return nil
	}, m.age)
	if err != nil {
		otel.Handle(err)
		return noopRegistration{}
	}
	return reg
}

type noopRegistration struct{ metric.Registration }

func (noopRegistration) Unregister() error { return nil }
