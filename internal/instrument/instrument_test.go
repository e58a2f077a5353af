package instrument_test

import (
	"context"
	"testing"

	"github.com/chassis-go/chassis/internal/oteltest"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/internal/instrument"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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

	errs := oteltest.Record(t)
	c = instrument.Int64Counter(oteltest.FailingMeterProvider{}.Meter("test"), "x", "1", "")
	c.Add(context.Background(), 1) // a no-op, not a nil
	if n := errs.Count(oteltest.ErrInstrument); n != 1 {
		t.Errorf("errors reported = %d; want the creation error", n)
	}
}
