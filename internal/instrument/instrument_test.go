package instrument_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/internal/instrument"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type failingMeter struct{ noop.Meter }

func (failingMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return nil, errors.New("no counters today")
}

type handler struct{ errs []error }

func (h *handler) Handle(err error) { h.errs = append(h.errs, err) }

func TestInt64Counter(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	c := instrument.Int64Counter(mp.Meter("test"), "chassis.test.count", "{event}", "Events.")
	c.Add(context.Background(), 2)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if got := rm.ScopeMetrics[0].Metrics[0]; got.Name != "chassis.test.count" || got.Unit != "{event}" {
		t.Errorf("counter = %s %s; want chassis.test.count {event}", got.Name, got.Unit)
	}

	h := &handler{}
	otel.SetErrorHandler(h)
	defer otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {}))
	c = instrument.Int64Counter(failingMeter{}, "x", "1", "")
	c.Add(context.Background(), 1) // a no-op, not a nil
	if len(h.errs) != 1 {
		t.Errorf("errors reported = %v; want the creation error", h.errs)
	}
}
