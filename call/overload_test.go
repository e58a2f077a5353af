package call_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/overload"
)

func TestWithOverload(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	entered, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			entered <- struct{}{}
			<-release
		}
	}))
	defer srv.Close()
	c := call.New(
		call.WithOverload(call.OverloadPolicy{Limiter: overload.Config{Algorithm: overload.Fixed(1)}}),
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 1}),
		call.WithRetry(call.RetryPolicy{MaxAttempts: 3}),
	)
	defer c.CloseIdleConnections()
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	_, err := c.Do(req)
	if !errors.Is(err, overload.ErrOverloaded) {
		t.Fatalf("Do while the host's limit is taken = %v; want ErrOverloaded", err)
	}
	if st := c.BreakerState(req.URL.Host); st != call.StateClosed {
		t.Errorf("breaker after a local refusal = %v; want closed", st)
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("server hits = %d; want 1 (the refusal was neither sent nor retried)", n)
	}
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("Do after the unit was released = %v", err)
	}
	resp.Body.Close()
}

// TestCloseUnregistersOverloadMetrics: Close stops the per-host limiters'
// metric callbacks, those of hosts first seen after Close are never
// registered, and the Client keeps working.
func TestCloseUnregistersOverloadMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	c := call.New(
		call.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
		call.WithOverload(call.OverloadPolicy{Limiter: overload.Config{Algorithm: overload.Fixed(4)}}),
		call.WithTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
		})),
	)
	get := func(host string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("Do(%s) = %v", host, err)
		}
		resp.Body.Close()
	}
	limitPoints := func() int {
		t.Helper()
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if g, ok := m.Data.(metricdata.Gauge[int64]); ok && m.Name == "chassis.overload.limit" {
					n += len(g.DataPoints)
				}
			}
		}
		return n
	}
	get("a.test")
	get("b.test")
	if n := limitPoints(); n != 2 {
		t.Fatalf("chassis.overload.limit points before Close = %d; want 2 (one per host)", n)
	}
	for range 2 {
		if err := c.Close(); err != nil {
			t.Fatalf("Close = %v; want nil", err)
		}
	}
	get("a.test")
	get("c.test")
	if n := limitPoints(); n != 0 {
		t.Errorf("chassis.overload.limit points after Close = %d; want 0", n)
	}
}
