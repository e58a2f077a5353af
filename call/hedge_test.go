package call_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

// slowFirst is a handler whose first request blocks until release is
// closed or the request is cancelled (reporting which on firstEnded), after
// signalling arrived; later requests answer "fast" at once.
type slowFirst struct {
	n          atomic.Int64
	arrived    chan struct{}
	release    chan struct{}
	firstEnded chan string
}

func newSlowFirst() *slowFirst {
	return &slowFirst{arrived: make(chan struct{}), release: make(chan struct{}), firstEnded: make(chan string, 1)}
}

func (s *slowFirst) handler(w http.ResponseWriter, r *http.Request) {
	if s.n.Add(1) == 1 {
		close(s.arrived)
		select {
		case <-s.release:
			s.firstEnded <- "released"
			_, _ = io.WriteString(w, "slow")
		case <-r.Context().Done():
			s.firstEnded <- "cancelled"
		}
		return
	}
	_, _ = io.WriteString(w, "fast")
}

// hedgeTimer is a hedge timer the test fires by hand; armed counts how
// often the Client armed it.
type hedgeTimer struct {
	fire  chan time.Time
	armed atomic.Int64
}

func newHedgeTimer() *hedgeTimer { return &hedgeTimer{fire: make(chan time.Time)} }

func (h *hedgeTimer) after(time.Duration) <-chan time.Time {
	h.armed.Add(1)
	return h.fire
}

func body(t *testing.T, resp *http.Response, err error) string {
	t.Helper()
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestHedge_slowAttemptLosesToTheHedge(t *testing.T) {
	t.Parallel()
	h := newSlowFirst()
	s := newServer(t, h.handler)
	tm := newHedgeTimer()
	tel := newTelemetry(t)
	c := newClient(t, append(tel.options(), call.WithHedge(call.HedgePolicy{Delay: time.Millisecond}), call.WithHedgeTimer(tm.after))...)
	got := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
		resp, err := c.Do(req)
		got <- body(t, resp, err)
	}()
	<-h.arrived
	tm.fire <- time.Now() // the first attempt has had no response for Delay
	if b := <-got; b != "fast" {
		t.Errorf("hedged GET body = %q; want the hedge's %q", b, "fast")
	}
	if e := <-h.firstEnded; e != "cancelled" {
		t.Errorf("the losing attempt was %s; want cancelled", e)
	}
	if n := h.n.Load(); n != 2 {
		t.Errorf("server requests = %d; want 2", n)
	}
	if n := tel.counter(t, "chassis.call.hedges", "", ""); n != 1 {
		t.Errorf("chassis.call.hedges = %d; want 1", n)
	}
}

func TestHedge_notSent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		opts   func(clk *fakeclock.Clock) []call.Option
		setup  func(t *testing.T, c *call.Client, url string, clk *fakeclock.Clock)
	}{
		{name: "non-idempotent POST", method: http.MethodPost},
		{name: "retry budget spent", method: http.MethodGet, opts: func(*fakeclock.Clock) []call.Option {
			return []call.Option{call.WithRetryBudget(call.RetryBudget{Ratio: -1, MinPerSecond: -1})}
		}},
		{name: "breaker half-open", method: http.MethodGet, opts: func(clk *fakeclock.Clock) []call.Option {
			return []call.Option{call.WithClock(clk.Now), call.WithBreaker(call.BreakerPolicy{
				ConsecutiveFailures: 1, OpenTimeout: time.Second,
				IsFailure: func(resp *http.Response, err error) bool { return err != nil || resp.StatusCode == http.StatusTeapot },
			})}
		}, setup: func(t *testing.T, c *call.Client, url string, clk *fakeclock.Clock) {
			// Trip the breaker, then let it go half-open.
			if st, err := get(c, url+"/teapot"); err != nil || st != http.StatusTeapot {
				t.Fatalf("tripping GET = %d, %v", st, err)
			}
			clk.Advance(time.Second)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newSlowFirst()
			var teapots atomic.Int64
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/teapot" {
					teapots.Add(1)
					w.WriteHeader(http.StatusTeapot)
					return
				}
				h.handler(w, r)
			})
			clk := fakeclock.New(epoch)
			tm := newHedgeTimer()
			opts := []call.Option{call.WithHedge(call.HedgePolicy{Delay: time.Millisecond}), call.WithHedgeTimer(tm.after)}
			if tc.opts != nil {
				opts = append(opts, tc.opts(clk)...)
			}
			c := newClient(t, opts...)
			if tc.setup != nil {
				tc.setup(t, c, s.URL, clk)
			}
			armed := tm.armed.Load()
			got := make(chan string, 1)
			go func() {
				req, _ := http.NewRequest(tc.method, s.URL, strings.NewReader("x"))
				resp, err := c.Do(req)
				got <- body(t, resp, err)
			}()
			<-h.arrived
			if tc.method == http.MethodPost {
				if n := tm.armed.Load() - armed; n != 0 {
					t.Errorf("hedge timer armed %d times for a POST; want 0", n)
				}
			} else {
				tm.fire <- time.Now() // received: the hedging decision is made
			}
			close(h.release)
			if b := <-got; b != "slow" {
				t.Errorf("body = %q; want the only attempt's %q", b, "slow")
			}
			if n := h.n.Load(); n != 1 {
				t.Errorf("server requests = %d; want 1 (no hedge)", n)
			}
		})
	}
}

func TestHedge_errorsWaitForTheOthers(t *testing.T) {
	t.Parallel()
	tm := newHedgeTimer()
	arrived, release := make(chan struct{}), make(chan struct{})
	hedgeCtx := make(chan context.Context, 1)
	var n atomic.Int64
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if n.Add(1) == 1 {
			close(arrived)
			<-release
			return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("first")), Request: r}, nil
		}
		hedgeCtx <- r.Context()
		return nil, errors.New("hedge failed")
	})
	// WithTimeout(0): the hedge's request context is the one the Client
	// cancels when it has taken the hedge's error into account.
	c := newClient(t, call.WithTransport(base), call.WithTimeout(0), call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
		call.WithHedge(call.HedgePolicy{Delay: time.Millisecond}), call.WithHedgeTimer(tm.after))
	got := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://svc.test/", nil)
		resp, err := c.Do(req)
		got <- body(t, resp, err)
	}()
	<-arrived
	tm.fire <- time.Now()
	<-(<-hedgeCtx).Done() // the hedge failed and the Client moved on
	close(release)
	if b := <-got; b != "first" {
		t.Errorf("body = %q; want the first attempt's, after the hedge's error", b)
	}
}

func TestHedge_panicIsRaisedOnTheCaller(t *testing.T) {
	t.Parallel()
	tm := newHedgeTimer()
	c := newClient(t, call.WithTransport(roundTripFunc(func(*http.Request) (*http.Response, error) { panic("transport panic") })),
		call.WithHedge(call.HedgePolicy{Delay: time.Millisecond}), call.WithHedgeTimer(tm.after))
	req, _ := http.NewRequest(http.MethodGet, "http://svc.test/", nil)
	var pv any
	func() {
		defer func() { pv = recover() }()
		_, _ = c.Transport().RoundTrip(req)
	}()
	if pv != "transport panic" {
		t.Errorf("RoundTrip recovered %v; want the attempt's panic raised again", pv)
	}
}

func TestHedgePolicy_invalidPanics(t *testing.T) {
	t.Parallel()
	for _, p := range []call.HedgePolicy{{}, {Delay: -1}, {Delay: time.Second, MaxHedges: -1}} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "call.WithHedge: ") || !strings.Contains(msg, "; ") {
					t.Errorf("WithHedge(%+v) panic = %q; want a call.WithHedge message with a fix", p, msg)
				}
			}()
			call.WithHedge(p)
		}()
	}
}
