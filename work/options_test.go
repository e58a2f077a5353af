package work_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/internal/oteltest"

	"github.com/chassis-go/chassis/work"
)

// TestNilOptions shows CONTRIBUTING.md's rules 2 and 3: a nil Option is
// ignored, and a nil provider means the global one.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	double := func(_ context.Context, n int) (int, error) { return 2 * n, nil }
	tests := []struct {
		name string
		opts []work.Option
	}{
		{"nil Option", []work.Option{nil, work.Workers(2), nil}},
		{"nil providers", []work.Option{work.WithTracerProvider(nil), work.WithMeterProvider(nil)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := work.Map(context.Background(), []int{1, 2, 3}, double, tc.opts...)
			if err != nil || len(got) != 3 || got[2] != 6 {
				t.Errorf("Map(1,2,3) = %v, %v; want [2 4 6], nil", got, err)
			}
			in := make(chan int, 1)
			in <- 5
			close(in)
			for r := range work.Stream(context.Background(), in, double, tc.opts...) {
				if r.Err != nil || r.Value != 10 {
					t.Errorf("Stream(5) result = %+v; want 10", r)
				}
			}
		})
	}
}

func TestPanicError_text(t *testing.T) {
	t.Parallel()
	self := map[string]any{}
	self["self"] = self
	boom := errors.New("boom")
	tests := []struct {
		name   string
		value  any
		want   string // prefix of Error()
		unwrap error
	}{
		{"string", "bad", "work: panic: bad", nil},
		{"error", boom, "work: panic: boom", boom},
		{"10 MB string", strings.Repeat("x", 10<<20), "work: panic: xxx", nil},
		{"self-referencing map", self, "work: panic: (map[string]interface {})", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := work.All(context.Background(), []func(context.Context) error{
				func(context.Context) error { panic(tc.value) },
			})
			var pe *work.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("All(panicking task) = %v; want a *PanicError", err)
			}
			msg := pe.Error()
			if !strings.HasPrefix(msg, tc.want) || len(msg) > 1200 || strings.Contains(msg, "\n") {
				t.Errorf("PanicError.Error() = %.80q (%d bytes); want one line starting %q, at most ~1 KiB", msg, len(msg), tc.want)
			}
			if got := pe.Unwrap(); got != tc.unwrap {
				t.Errorf("PanicError.Unwrap() = %v; want %v", got, tc.unwrap)
			}
			if len(err.Error()) > 1300 {
				t.Errorf("All's error text is %d bytes; want it bounded", len(err.Error()))
			}
		})
	}
}

func TestInstrumentErrorsAreReported(t *testing.T) {
	errs := oteltest.Record(t)
	got, err := work.Map(context.Background(), []int{1, 2}, func(_ context.Context, n int) (int, error) { return n, nil },
		work.WithMeterProvider(oteltest.FailingMeterProvider{}))
	if err != nil || len(got) != 2 {
		t.Errorf("Map with a failing meter = %v, %v; want [1 2], nil", got, err)
	}
	if n := errs.Count(oteltest.ErrInstrument); n != 1 {
		t.Errorf("errors reported through otel.Handle = %d; want 1", n)
	}
}
