package integration_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/work"
)

// TestCancelMapOfCalls cancels a work.Map whose items are call.Client
// requests to a server that answers only when the request is cancelled:
// Map returns context.Canceled, every request is seen cancelled by the
// server, nothing leaks, and the caller's cancellation does not open the
// breaker.
func TestCancelMapOfCalls(t *testing.T) {
	const n = 6
	arrived := make(chan struct{}, n)
	var cancelled sync.WaitGroup
	cancelled.Add(n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // the server sees the client go away
		cancelled.Done()
	}))

	var transitions []string
	var mu sync.Mutex
	client := call.New(
		call.WithRetry(call.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}),
		call.WithRetryBudget(call.RetryBudget{Unlimited: true}),
		call.WithBreaker(call.BreakerPolicy{
			ConsecutiveFailures: 1, // any failure would open it
			OnStateChange: func(host string, from, to call.State) {
				mu.Lock()
				defer mu.Unlock()
				transitions = append(transitions, from.String()+"->"+to.String())
			},
		}),
	)
	host := mustHost(t, srv.URL)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		out []int
		err error
	}
	done := make(chan result, 1)
	items := make([]int, n)
	go func() {
		out, err := work.Map(ctx, items, func(ctx context.Context, _ int) (int, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/block", nil)
			if err != nil {
				return 0, err
			}
			resp, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			_ = resp.Body.Close()
			return resp.StatusCode, nil
		}, work.Workers(n))
		done <- result{out, err}
	}()

	for i := range n {
		recv(t, arrived, fmt.Sprintf("request %d of %d to reach the server", i+1, n))
	}
	cancel()
	res := recv(t, done, "work.Map to return after cancel")

	if !errors.Is(res.err, context.Canceled) {
		t.Errorf("work.Map() err = %v; want context.Canceled", res.err)
	}
	var errs *work.Errors
	if !errors.As(res.err, &errs) || len(errs.Errs) != n {
		t.Errorf("work.Map() err = %v; want an *work.Errors with %d items", res.err, n)
	} else {
		for _, e := range errs.Errs {
			if !errors.Is(e, context.Canceled) {
				t.Errorf("item %d err = %v; want context.Canceled", e.Index, e.Err)
			}
			if errors.Is(e, call.ErrCircuitOpen) || errors.Is(e, call.ErrAttemptTimeout) {
				t.Errorf("item %d err = %v; want the caller's cancellation only", e.Index, e.Err)
			}
		}
	}

	waited := make(chan struct{})
	go func() { cancelled.Wait(); close(waited) }()
	recv(t, waited, "the server to see every request cancelled")
	select {
	case <-arrived:
		t.Errorf("the server got more than %d requests; want no retry after the caller cancelled", n)
	default:
	}

	if st := client.BreakerState(host); st != call.StateClosed {
		t.Errorf("BreakerState(%s) = %v; want closed (the caller cancelled, the host did not fail)", host, st)
	}
	mu.Lock()
	if len(transitions) != 0 {
		t.Errorf("breaker transitions = %v; want none", transitions)
	}
	mu.Unlock()

	srv.Close()
	client.CloseIdleConnections()
	goleak.VerifyNone(t)
}

func mustHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
