// Package oteltest holds what tests of chassis's instrumented packages need
// to show that a failing OpenTelemetry setup is reported and never stops
// the code it observes: a MeterProvider whose instruments all fail to be
// created, and a recorder of what reaches otel.Handle.
package oteltest

import (
	"errors"
	"log"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// ErrInstrument is the error every instrument of FailingMeterProvider
// fails with.
var ErrInstrument = errors.New("instrument refused")

// FailingMeterProvider's meters fail to create any instrument chassis uses
// (counters, up-down counters, histograms, gauges), with ErrInstrument.
type FailingMeterProvider struct{ noop.MeterProvider }

// Meter returns a meter whose instruments fail.
func (FailingMeterProvider) Meter(string, ...metric.MeterOption) metric.Meter { return failingMeter{} }

type failingMeter struct{ noop.Meter }

func (failingMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return nil, ErrInstrument
}

func (failingMeter) Int64UpDownCounter(string, ...metric.Int64UpDownCounterOption) (metric.Int64UpDownCounter, error) {
	return nil, ErrInstrument
}

func (failingMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return nil, ErrInstrument
}

func (failingMeter) Int64ObservableGauge(string, ...metric.Int64ObservableGaugeOption) (metric.Int64ObservableGauge, error) {
	return nil, ErrInstrument
}

// Errors records what reaches otel.Handle while a test runs.
type Errors struct {
	mu      sync.Mutex
	errs    []error
	stopped bool
}

// Handle records err, or logs it as OpenTelemetry's default handler does
// once the test has ended.
func (h *Errors) Handle(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		log.Print(err)
		return
	}
	h.errs = append(h.errs, err)
}

// Count returns how many recorded errors match target.
func (h *Errors) Count(target error) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, err := range h.errs {
		if errors.Is(err, target) {
			n++
		}
	}
	return n
}

// Record installs an Errors as the global OpenTelemetry error handler until
// the test ends. The first SetErrorHandler of a process makes
// OpenTelemetry's default handler forward to the one set, for ever, so the
// recorder then behaves like the default handler instead. Tests that call
// it must not be parallel.
func Record(t testing.TB) *Errors {
	h := &Errors{}
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(h)
	t.Cleanup(func() {
		otel.SetErrorHandler(prev)
		h.mu.Lock()
		h.stopped = true
		h.mu.Unlock()
	})
	return h
}
