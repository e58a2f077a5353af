// Package instrument creates OpenTelemetry instruments the way every chassis
// package must: a failure to create one is reported through otel.Handle,
// and a no-op instrument takes its place, so that telemetry can never stop
// the code it observes.
package instrument

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Int64Counter returns meter's counter name with unit and description, or
// a no-op counter after reporting the error to otel.Handle.
func Int64Counter(meter metric.Meter, name, unit, desc string) metric.Int64Counter {
	c, err := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	if err != nil {
		otel.Handle(err)
		return noop.Int64Counter{}
	}
	return c
}
