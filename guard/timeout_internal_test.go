package guard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// timeoutOverruns returns the value of chassis.timeout.overruns.
func timeoutOverruns(t *testing.T, reader sdkmetric.Reader) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "chassis.timeout.overruns" {
				var n int64
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					n += dp.Value
				}
				return n
			}
		}
	}
	return 0
}

// TestTimeoutOverrunsMetric uses the exited hook to know when the abandoned
// handler's goroutine has counted its overrun.
func TestTimeoutOverrunsMetric(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		d       time.Duration
		handler func(release <-chan struct{}) http.HandlerFunc
		want    int64
	}{
		{
			name: "handler ignoring its deadline",
			d:    20 * time.Millisecond,
			handler: func(release <-chan struct{}) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { <-release }
			},
			want: 1,
		},
		{
			name: "handler returning in time",
			d:    time.Hour,
			handler: func(<-chan struct{}) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }
			},
			want: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			release, exited := make(chan struct{}), make(chan struct{})
			h := Timeout(tc.d, TimeoutMeterProvider(mp))(tc.handler(release)).(*timeoutHandler)
			h.exited = func() { close(exited) }
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			close(release)
			<-exited
			if got := timeoutOverruns(t, reader); got != tc.want {
				t.Errorf("chassis.timeout.overruns after a %d response = %d; want %d", rec.Code, got, tc.want)
			}
		})
	}
}
