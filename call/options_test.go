package call_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/chassis-go/chassis/call"
)

// TestNilOptions shows CONTRIBUTING.md's rules 2 and 3: a nil Option is
// ignored, and a nil value given to an option means the default.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	s := tokenServer(t)
	tests := []struct {
		name string
		opts []call.Option
	}{
		{"nil Option", []call.Option{nil, call.WithTimeout(0), nil}},
		{"WithClock(nil) is time.Now", []call.Option{call.WithClock(nil), call.WithBreaker(call.BreakerPolicy{})}},
		{"WithTransport(nil) is the default transport", []call.Option{call.WithTransport(nil)}},
		{"WithTokenSource(nil) sends no token", []call.Option{call.WithTokenSource(nil)}},
		{"nil providers are the global ones", []call.Option{call.WithMeterProvider(nil), call.WithTracerProvider(nil), call.WithPropagators(nil)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, tc.opts...)
			req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
			got, err := gotAuth(context.Background(), c, req)
			if err != nil || got != "" {
				t.Errorf("Do = Authorization %q, %v; want no Authorization, nil", got, err)
			}
		})
	}
}

// failingMeterProvider's instruments all fail to be created.
type failingMeterProvider struct{ noop.MeterProvider }

func (failingMeterProvider) Meter(string, ...metric.MeterOption) metric.Meter { return failingMeter{} }

type failingMeter struct{ noop.Meter }

var errInstrument = errors.New("instrument refused")

func (failingMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return nil, errInstrument
}

func (failingMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return nil, errInstrument
}

// otelErrors records what reaches otel.Handle while a test runs.
type otelErrors struct {
	mu      sync.Mutex
	errs    []error
	stopped bool
}

func (h *otelErrors) Handle(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		log.Print(err) // what OpenTelemetry's default handler does
		return
	}
	h.errs = append(h.errs, err)
}

func (h *otelErrors) count(target error) int {
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

// recordOTelErrors installs an otelErrors as the global OpenTelemetry error
// handler until the test ends. The first SetErrorHandler of a process makes
// OpenTelemetry's default handler forward to the one set, for ever, so the
// recorder then behaves like the default handler instead. Tests that call it
// must not be parallel.
func recordOTelErrors(t *testing.T) *otelErrors {
	h := &otelErrors{}
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

func TestInstrumentErrorsAreReported(t *testing.T) {
	errs := recordOTelErrors(t)
	s := tokenServer(t)
	c := newClient(t, call.WithMeterProvider(failingMeterProvider{}), call.WithBreaker(call.BreakerPolicy{}))
	// 5 counters and the duration histogram.
	if n := errs.count(errInstrument); n != 6 {
		t.Errorf("errors reported through otel.Handle by New = %d; want 6", n)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	if _, err := gotAuth(context.Background(), c, req); err != nil {
		t.Errorf("Do with failed instruments err = %v; want nil", err)
	}
}
