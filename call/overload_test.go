package call_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

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
