package call_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

// tokenServer answers with the Authorization header it got.
func tokenServer(t *testing.T) *server {
	return newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Got-Authorization", r.Header.Get("Authorization"))
	})
}

// gotAuth sends a GET and returns the Authorization header the server saw.
func gotAuth(ctx context.Context, c *call.Client, req *http.Request) (string, error) {
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return "", err
	}
	_ = resp.Body.Close()
	return resp.Header.Get("X-Got-Authorization"), nil
}

// countingSource issues "tok-1", "tok-2", ... valid for lifetime from clk.
type countingSource struct {
	clk      *fakeclock.Clock
	lifetime time.Duration
	calls    atomic.Int64
	gate     chan struct{} // if non-nil, each fetch waits for a value
	started  chan struct{} // if non-nil, each fetch sends to it first
	ctxErr   atomic.Value  // error of the fetch context when the fetch returned
}

func (s *countingSource) Token(ctx context.Context) (call.Token, error) {
	n := s.calls.Add(1)
	if s.started != nil {
		s.started <- struct{}{}
	}
	if s.gate != nil {
		<-s.gate
	}
	s.ctxErr.Store(errBox{ctx.Err()})
	return call.Token{Value: "tok-" + strconv.FormatInt(n, 10), Expiry: s.clk.Now().Add(s.lifetime)}, nil
}

type errBox struct{ err error }

func TestToken_bearerOnTheCopyOnly(t *testing.T) {
	t.Parallel()
	s := tokenServer(t)
	src := &countingSource{clk: fakeclock.New(epoch), lifetime: time.Hour}
	c := newClient(t, call.WithClock(src.clk.Now), call.WithTokenSource(src))
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	got, err := gotAuth(context.Background(), c, req)
	if err != nil || got != "Bearer tok-1" {
		t.Errorf("server saw Authorization %q, %v; want %q", got, err, "Bearer tok-1")
	}
	if v := req.Header.Get("Authorization"); v != "" {
		t.Errorf("caller's request Authorization = %q; want none", v)
	}
	got, _ = gotAuth(context.Background(), c, req)
	if got != "Bearer tok-1" || src.calls.Load() != 1 {
		t.Errorf("second request saw %q after %d fetches; want the cached tok-1 after 1", got, src.calls.Load())
	}
}

func TestToken_callerAuthorizationWins(t *testing.T) {
	t.Parallel()
	s := tokenServer(t)
	src := &countingSource{clk: fakeclock.New(epoch), lifetime: time.Hour}
	c := newClient(t, call.WithTokenSource(src))
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	req.Header.Set("Authorization", "Basic abc")
	got, err := gotAuth(context.Background(), c, req)
	if err != nil || got != "Basic abc" {
		t.Errorf("server saw Authorization %q, %v; want the caller's %q", got, err, "Basic abc")
	}
	if n := src.calls.Load(); n != 0 {
		t.Errorf("token fetches = %d; want 0", n)
	}
}

func TestToken_oneFetchForConcurrentCallers(t *testing.T) {
	t.Parallel()
	t.Run("late joiner", func(t *testing.T) {
		// The second caller reads the empty cache, then parks before the
		// flight while the first caller's flight fetches, stores and ends.
		// Joining late, it must find the stored token, not fetch again.
		t.Parallel()
		s := tokenServer(t)
		src := &countingSource{clk: fakeclock.New(epoch), lifetime: time.Hour}
		parked, release := make(chan struct{}), make(chan struct{})
		var first atomic.Bool
		hook := func() {
			if first.CompareAndSwap(false, true) {
				close(parked)
				<-release
			}
		}
		c := newClient(t, call.WithClock(src.clk.Now), call.WithTokenSource(src), call.WithTokenHook(hook))
		req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
		late := make(chan string, 1)
		go func() {
			got, err := gotAuth(context.Background(), c, req)
			if err != nil {
				got = err.Error()
			}
			late <- got
		}()
		<-parked
		if got, err := gotAuth(context.Background(), c, req); err != nil || got != "Bearer tok-1" {
			t.Errorf("first caller saw %q, %v; want Bearer tok-1", got, err)
		}
		close(release)
		if got := <-late; got != "Bearer tok-1" {
			t.Errorf("late joiner saw %q; want Bearer tok-1 from the cache", got)
		}
		if n := src.calls.Load(); n != 1 {
			t.Errorf("token fetches = %d; want 1", n)
		}
	})
	t.Run("20 concurrent", func(t *testing.T) {
		t.Parallel()
		s := tokenServer(t)
		src := &countingSource{clk: fakeclock.New(epoch), lifetime: time.Hour}
		c := newClient(t, call.WithClock(src.clk.Now), call.WithTokenSource(src))
		req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if got, err := gotAuth(context.Background(), c, req); err != nil || got != "Bearer tok-1" {
					t.Errorf("concurrent caller saw %q, %v; want Bearer tok-1", got, err)
				}
			})
		}
		wg.Wait()
		if n := src.calls.Load(); n != 1 {
			t.Errorf("token fetches for 20 concurrent callers = %d; want 1", n)
		}
	})
}

func TestToken_panicBecomesAnError(t *testing.T) {
	t.Parallel()
	s := tokenServer(t)
	boom := errors.New("boom")
	c := newClient(t, call.WithTokenSource(call.TokenFunc(func(context.Context) (call.Token, error) {
		panic(boom)
	})))
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	_, err := gotAuth(context.Background(), c, req)
	var pe *call.PanicError
	if !errors.As(err, &pe) || !errors.Is(err, boom) || len(pe.Stack) == 0 {
		t.Fatalf("Do with a panicking token source err = %v; want a *call.PanicError wrapping boom, with a stack", err)
	}
	if got, want := pe.Error(), "call: token source panic: boom"; got != want {
		t.Errorf("PanicError.Error() = %q; want %q", got, want)
	}
	if s.hits.Load() != 0 {
		t.Errorf("server hits = %d; want 0", s.hits.Load())
	}
}

func TestToken_cancelledCallerDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	s := tokenServer(t)
	src := &countingSource{clk: fakeclock.New(epoch), lifetime: time.Hour,
		gate: make(chan struct{}), started: make(chan struct{}, 1)}
	c := newClient(t, call.WithClock(src.clk.Now), call.WithTokenSource(src))
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := gotAuth(ctx, c, req)
		first <- err
	}()
	<-src.started // the first caller's fetch is running
	second := make(chan string, 1)
	go func() {
		got, _ := gotAuth(context.Background(), c, req)
		second <- got
	}()
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller err = %v; want context.Canceled", err)
	}
	if s.hits.Load() != 0 {
		t.Errorf("server hits = %d; want 0 before the token arrives", s.hits.Load())
	}
	src.gate <- struct{}{} // let the fetch finish
	if got := <-second; got != "Bearer tok-1" {
		t.Errorf("second caller saw %q; want Bearer tok-1 from the shared fetch", got)
	}
	if e := src.ctxErr.Load().(errBox).err; e != nil {
		t.Errorf("fetch context err = %v; want nil (detached from the cancelled caller)", e)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("token fetches = %d; want 1", n)
	}
}

func TestToken_refreshAheadOfExpiry(t *testing.T) {
	t.Parallel()
	s := tokenServer(t)
	clk := fakeclock.New(epoch)
	src := &countingSource{clk: clk, lifetime: time.Hour, gate: make(chan struct{}, 1)}
	c := newClient(t, call.WithClock(clk.Now), call.WithTokenSource(src))
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	src.gate <- struct{}{}
	if got, _ := gotAuth(context.Background(), c, req); got != "Bearer tok-1" {
		t.Fatalf("first request saw %q; want Bearer tok-1", got)
	}

	// 29m before expiry: still fresh, no fetch.
	clk.Advance(31 * time.Minute)
	if got, _ := gotAuth(context.Background(), c, req); got != "Bearer tok-1" || src.calls.Load() != 1 {
		t.Fatalf("at 31m saw %q after %d fetches; want tok-1 after 1", got, src.calls.Load())
	}
	// 20s before expiry (inside the 30s margin): the old token is used at
	// once while one refresh runs in the background, blocked on the gate.
	clk.Advance(29*time.Minute - 20*time.Second)
	for range 3 {
		if got, _ := gotAuth(context.Background(), c, req); got != "Bearer tok-1" {
			t.Fatalf("inside the refresh margin saw %q; want tok-1 without waiting", got)
		}
	}
	src.gate <- struct{}{}
	// Past tok-1's expiry, a request either joins the refresh still in
	// flight or finds tok-2 in the cache: both give tok-2.
	clk.Advance(time.Minute)
	if got, _ := gotAuth(context.Background(), c, req); got != "Bearer tok-2" {
		t.Fatalf("after the refresh saw %q; want Bearer tok-2", got)
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("token fetches = %d; want 2", n)
	}
}

func TestToken_expiredTokenIsFetchedBeforeSending(t *testing.T) {
	t.Parallel()
	s := tokenServer(t)
	clk := fakeclock.New(epoch)
	src := &countingSource{clk: clk, lifetime: time.Minute}
	c := newClient(t, call.WithClock(clk.Now), call.WithTokenSource(src))
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	_, _ = gotAuth(context.Background(), c, req)
	clk.Advance(time.Minute)
	if got, _ := gotAuth(context.Background(), c, req); got != "Bearer tok-2" {
		t.Errorf("after expiry saw %q; want Bearer tok-2", got)
	}
}

func TestToken_errorsFailTheCallWithoutTouchingBreakerOrNetwork(t *testing.T) {
	t.Parallel()
	s := tokenServer(t)
	errIdP := errors.New("idp down")
	var calls atomic.Int64
	src := call.TokenFunc(func(context.Context) (call.Token, error) {
		calls.Add(1)
		return call.Token{}, errIdP
	})
	c := newClient(t, call.WithTokenSource(src), call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 1}))
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	for range 3 {
		if _, err := gotAuth(context.Background(), c, req); !errors.Is(err, errIdP) {
			t.Errorf("Do with failing token source err = %v; want it to wrap the source's error", err)
		}
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("token fetches = %d; want 3 (one per call, never retried)", n)
	}
	if s.hits.Load() != 0 {
		t.Errorf("server hits = %d; want 0", s.hits.Load())
	}
	if st := c.BreakerState(s.Listener.Addr().String()); st != call.StateClosed {
		t.Errorf("BreakerState = %v; want closed (token errors are not the server's)", st)
	}

	empty := newClient(t, call.WithTokenSource(call.TokenFunc(func(context.Context) (call.Token, error) {
		return call.Token{}, nil
	})))
	if _, err := gotAuth(context.Background(), empty, req); err == nil {
		t.Errorf("Do with an empty token err = nil; want an error")
	}
}

func TestToken_notSentAcrossHostsOnRedirect(t *testing.T) {
	t.Parallel()
	other := tokenServer(t)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/same" {
			w.Header().Set("X-Got-Authorization", r.Header.Get("Authorization"))
			return
		}
		if r.URL.Path == "/away" {
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
			return
		}
		http.Redirect(w, r, "/same", http.StatusFound)
	})
	src := &countingSource{clk: fakeclock.New(epoch), lifetime: time.Hour}
	c := newClient(t, call.WithClock(src.clk.Now), call.WithTokenSource(src))

	req, _ := http.NewRequest(http.MethodGet, s.URL+"/here", nil)
	if got, err := gotAuth(context.Background(), c, req); err != nil || got != "Bearer tok-1" {
		t.Errorf("same-host redirect target saw %q, %v; want Bearer tok-1", got, err)
	}
	req, _ = http.NewRequest(http.MethodGet, s.URL+"/away", nil)
	if got, err := gotAuth(context.Background(), c, req); err != nil || got != "" {
		t.Errorf("other-host redirect target saw Authorization %q, %v; want none", got, err)
	}
}
