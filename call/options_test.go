package call_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/chassis-go/chassis/internal/oteltest"

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

func TestInstrumentErrorsAreReported(t *testing.T) {
	errs := oteltest.Record(t)
	s := tokenServer(t)
	c := newClient(t, call.WithMeterProvider(oteltest.FailingMeterProvider{}), call.WithBreaker(call.BreakerPolicy{}))
	// 5 counters and the duration histogram.
	if n := errs.Count(oteltest.ErrInstrument); n != 6 {
		t.Errorf("errors reported through otel.Handle by New = %d; want 6", n)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	if _, err := gotAuth(context.Background(), c, req); err != nil {
		t.Errorf("Do with failed instruments err = %v; want nil", err)
	}
}
