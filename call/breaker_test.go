package call_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// switchable answers with the status stored in it.
type switchable struct{ status atomic.Int64 }

func (s *switchable) handler(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(int(s.status.Load()))
}

// get sends a GET to u and returns its status, or its error.
func get(c *call.Client, u string) (int, error) {
	return getCtx(context.Background(), c, u)
}

func getCtx(ctx context.Context, c *call.Client, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// transitions records OnStateChange calls; it calls back into the Client
// to show that no lock is held.
type transitions struct {
	mu  sync.Mutex
	c   *call.Client
	log []string
}

func (tr *transitions) hook(host string, from, to call.State) {
	tr.mu.Lock()
	c := tr.c
	tr.mu.Unlock()
	now := c.BreakerState(host) // would deadlock if the breaker's lock were held
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.log = append(tr.log, fmt.Sprintf("%s->%s(%s)", from, to, now))
}

func (tr *transitions) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.log, " ")
}

func TestBreaker_opensAndRecovers(t *testing.T) {
	t.Parallel()
	var sw switchable
	sw.status.Store(http.StatusInternalServerError)
	s := newServer(t, sw.handler)
	host := strings.ToUpper(strings.TrimPrefix(s.URL, "http://")) // hosts compare case-insensitively
	clk := fakeclock.New(epoch)
	tr := &transitions{}
	c := newClient(t, call.WithClock(clk.Now), call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
		call.WithBreaker(call.BreakerPolicy{OnStateChange: tr.hook}))
	tr.c = c

	for i := range 5 {
		if st, err := get(c, s.URL); err != nil || st != 500 {
			t.Fatalf("get #%d = %d, %v; want 500, nil", i, st, err)
		}
	}
	if got := c.BreakerState(host); got != call.StateOpen {
		t.Fatalf("BreakerState(%s) after 5 failures = %v; want open", host, got)
	}
	_, err := get(c, s.URL)
	if !errors.Is(err, call.ErrCircuitOpen) {
		t.Fatalf("get while open err = %v; want ErrCircuitOpen", err)
	}
	if !strings.Contains(err.Error(), strings.ToLower(host)) {
		t.Errorf("get while open err = %q; want it to name the host %s", err, strings.ToLower(host))
	}
	if got := s.hits.Load(); got != 5 {
		t.Errorf("server hits = %d; want 5 (nothing sent while open)", got)
	}

	clk.Advance(30*time.Second - time.Nanosecond)
	if _, err := get(c, s.URL); !errors.Is(err, call.ErrCircuitOpen) {
		t.Fatalf("get just before OpenTimeout err = %v; want ErrCircuitOpen", err)
	}

	// The probe fails: open again for another 30s.
	clk.Advance(time.Nanosecond)
	if st, err := get(c, s.URL); err != nil || st != 500 {
		t.Fatalf("failing probe = %d, %v; want 500, nil", st, err)
	}
	if got := c.BreakerState(host); got != call.StateOpen {
		t.Fatalf("BreakerState after failed probe = %v; want open", got)
	}
	if _, err := get(c, s.URL); !errors.Is(err, call.ErrCircuitOpen) {
		t.Fatalf("get after failed probe err = %v; want ErrCircuitOpen", err)
	}

	// The next probe succeeds: closed.
	clk.Advance(30 * time.Second)
	sw.status.Store(http.StatusOK)
	if st, err := get(c, s.URL); err != nil || st != 200 {
		t.Fatalf("successful probe = %d, %v; want 200, nil", st, err)
	}
	if got := c.BreakerState(host); got != call.StateClosed {
		t.Errorf("BreakerState after successful probe = %v; want closed", got)
	}
	want := "closed->open(open) open->half_open(half_open) half_open->open(open) open->half_open(half_open) half_open->closed(closed)"
	if got := tr.String(); got != want {
		t.Errorf("OnStateChange calls = %s; want %s", got, want)
	}
}

func TestBreaker_halfOpenLimitsProbes(t *testing.T) {
	t.Parallel()
	var sw switchable
	sw.status.Store(http.StatusServiceUnavailable)
	release := make(chan struct{})
	probing := make(chan struct{})
	var probe atomic.Bool
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if probe.Load() {
			close(probing)
			<-release
		}
		sw.handler(w, r)
	})
	clk := fakeclock.New(epoch)
	c := newClient(t, call.WithClock(clk.Now), call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 2}))
	for range 2 {
		_, _ = get(c, s.URL)
	}
	clk.Advance(time.Minute)
	sw.status.Store(http.StatusOK)
	probe.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := get(c, s.URL)
		done <- err
	}()
	<-probing
	probe.Store(false)
	if _, err := get(c, s.URL); !errors.Is(err, call.ErrCircuitOpen) {
		t.Errorf("second request while the probe is in flight err = %v; want ErrCircuitOpen", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("probe err = %v", err)
	}
	if st, err := get(c, s.URL); err != nil || st != 200 {
		t.Errorf("get after successful probe = %d, %v; want 200, nil", st, err)
	}
}

func TestBreaker_callerCancellationNeverTrips(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	clk := fakeclock.New(epoch)
	c := newClient(t, call.WithClock(clk.Now),
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 2, FailureRatio: 0.1, MinRequests: 1}))
	host := strings.TrimPrefix(s.URL, "http://")
	for i := range 10 {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()
		if _, err := getCtx(ctx, c, s.URL); !errors.Is(err, context.Canceled) {
			t.Fatalf("get #%d err = %v; want context.Canceled", i, err)
		}
		cancel()
	}
	if got := c.BreakerState(host); got != call.StateClosed {
		t.Errorf("BreakerState after 10 cancelled calls = %v; want closed", got)
	}
	if got := s.hits.Load(); got != 10 {
		t.Errorf("server hits = %d; want 10 (cancelled calls are not retried)", got)
	}
}

func TestBreaker_cancelledProbeFreesItsSlot(t *testing.T) {
	t.Parallel()
	var hang atomic.Bool
	arrived := make(chan struct{}, 1)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			arrived <- struct{}{}
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	})
	clk := fakeclock.New(epoch)
	c := newClient(t, call.WithClock(clk.Now), call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 1}))
	host := strings.TrimPrefix(s.URL, "http://")
	_, _ = get(c, s.URL)
	clk.Advance(time.Minute)
	hang.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	if _, err := getCtx(ctx, c, s.URL); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled probe err = %v; want context.Canceled", err)
	}
	if got := c.BreakerState(host); got != call.StateHalfOpen {
		t.Fatalf("BreakerState after cancelled probe = %v; want half_open", got)
	}
	hang.Store(false)
	if st, err := get(c, s.URL); err != nil || st != http.StatusBadGateway {
		t.Errorf("next probe = %d, %v; want it sent (502, nil)", st, err)
	}
}

func TestBreaker_attemptTimeoutIsAFailure(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := newClient(t, call.WithTimeout(5*time.Millisecond), call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 3}))
	host := strings.TrimPrefix(s.URL, "http://")
	for i := range 3 {
		_, err := get(c, s.URL)
		if !errors.Is(err, call.ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("get #%d err = %v; want ErrAttemptTimeout and context.DeadlineExceeded", i, err)
		}
	}
	if got := c.BreakerState(host); got != call.StateOpen {
		t.Errorf("BreakerState after 3 attempt timeouts = %v; want open", got)
	}
}

func TestBreaker_classification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		policy call.BreakerPolicy
		want   call.State
	}{
		{"4xx are not failures", 404, call.BreakerPolicy{ConsecutiveFailures: 3}, call.StateClosed},
		{"429 is not a failure", 429, call.BreakerPolicy{ConsecutiveFailures: 3}, call.StateClosed},
		{"500 is a failure", 500, call.BreakerPolicy{ConsecutiveFailures: 3}, call.StateOpen},
		{"IsFailure overrides", 500, call.BreakerPolicy{ConsecutiveFailures: 3,
			IsFailure: func(r *http.Response, err error) bool { return err != nil }}, call.StateClosed},
		{"IsFailure counts 404", 404, call.BreakerPolicy{ConsecutiveFailures: 3,
			IsFailure: func(r *http.Response, err error) bool { return err != nil || r.StatusCode == 404 }}, call.StateOpen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var sw switchable
			sw.status.Store(int64(tc.status))
			s := newServer(t, sw.handler)
			c := newClient(t, call.WithRetry(call.RetryPolicy{MaxAttempts: 1}), call.WithBreaker(tc.policy))
			for range 3 {
				_, _ = get(c, s.URL)
			}
			if got := c.BreakerState(strings.TrimPrefix(s.URL, "http://")); got != tc.want {
				t.Errorf("BreakerState after 3 × %d = %v; want %v", tc.status, got, tc.want)
			}
		})
	}
}

func TestBreaker_failureRatio(t *testing.T) {
	t.Parallel()
	// Alternating failures never make 3 in a row, but reach a 50% ratio.
	s := newServer(t, sequence(500, 200, 500, 200, 500, 200, 500, 200, 500, 200))
	clk := fakeclock.New(epoch)
	c := newClient(t, call.WithClock(clk.Now), call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 3, FailureRatio: 0.5, MinRequests: 10, Window: 10 * time.Second}))
	host := strings.TrimPrefix(s.URL, "http://")
	for i := range 9 {
		_, _ = get(c, s.URL)
		if got := c.BreakerState(host); got != call.StateClosed {
			t.Fatalf("BreakerState after %d requests = %v; want closed (fewer than MinRequests)", i+1, got)
		}
	}
	// Outcomes older than the window are forgotten.
	clk.Advance(11 * time.Second)
	_, _ = get(c, s.URL) // the 10th: a 200
	if got := c.BreakerState(host); got != call.StateClosed {
		t.Fatalf("BreakerState after the window slid = %v; want closed", got)
	}
	s2 := newServer(t, sequence(500, 200, 500, 200, 500, 200, 500, 200, 500, 200))
	host2 := strings.TrimPrefix(s2.URL, "http://")
	for range 10 {
		_, _ = get(c, s2.URL)
	}
	if got := c.BreakerState(host2); got != call.StateClosed {
		t.Fatalf("BreakerState(%s) after 5/10 failures ending in success = %v; want closed (ratio checked on failure)", host2, got)
	}
	_, _ = get(c, s2.URL) // 200 (the sequence is done)
	s3 := newServer(t, sequence(500, 200, 500, 200, 500, 200, 500, 200, 200, 500))
	host3 := strings.TrimPrefix(s3.URL, "http://")
	for range 10 {
		_, _ = get(c, s3.URL)
	}
	if got := c.BreakerState(host3); got != call.StateOpen {
		t.Errorf("BreakerState(%s) after 5/10 failures = %v; want open", host3, got)
	}
}

// roundTripFunc is an in-memory base transport.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// statusByHost answers 500 for hosts starting with "bad", 200 otherwise,
// without any network.
func statusByHost(r *http.Request) (*http.Response, error) {
	st := http.StatusOK
	if strings.HasPrefix(r.URL.Host, "bad") {
		st = http.StatusInternalServerError
	}
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: st, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

func sendTo(t testing.TB, rt http.RoundTripper, host string) error {
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: "http", Host: host, Path: "/"}, Header: http.Header{}}
	resp, err := rt.RoundTrip(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	return err
}

func TestBreaker_boundedHosts(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(epoch)
	c := newClient(t, call.WithClock(clk.Now), call.WithTransport(roundTripFunc(statusByHost)),
		call.WithRetry(call.RetryPolicy{MaxAttempts: 1}), call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 1}))
	rt := c.Transport()
	_ = sendTo(t, rt, "bad-victim")
	if got := c.BreakerState("bad-victim"); got != call.StateOpen {
		t.Fatalf("BreakerState(bad-victim) = %v; want open", got)
	}
	const hosts = 100_000
	for i := range hosts {
		if err := sendTo(t, rt, fmt.Sprintf("h%d.example", i)); err != nil {
			t.Fatalf("send to host %d: %v", i, err)
		}
		if i%1000 == 0 {
			if n := c.Breakers(); n > 1024 {
				t.Fatalf("Breakers() after %d hosts = %d; want <= 1024", i+1, n)
			}
		}
	}
	if n := c.Breakers(); n > 1024 || n < 512 {
		t.Errorf("Breakers() after %d hosts = %d; want in [512, 1024]", hosts, n)
	}
	if err := sendTo(t, rt, "bad-victim"); !errors.Is(err, call.ErrCircuitOpen) {
		t.Errorf("send to bad-victim after flood err = %v; want ErrCircuitOpen (open breakers are not evicted)", err)
	}
}

func TestBreaker_fullOfOpenBreakers(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(epoch)
	c := newClient(t, call.WithClock(clk.Now), call.WithTransport(roundTripFunc(statusByHost)),
		call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 1, MaxHosts: 8}))
	rt := c.Transport()
	for i := range 8 {
		_ = sendTo(t, rt, fmt.Sprintf("bad%d", i))
	}
	// Set full of open breakers: a newcomer is served without a breaker.
	for range 3 {
		if err := sendTo(t, rt, "bad-newcomer"); err != nil {
			t.Fatalf("send to newcomer err = %v; want it served without a breaker", err)
		}
	}
	if got, n := c.BreakerState("bad-newcomer"), c.Breakers(); got != call.StateClosed || n != 8 {
		t.Errorf("newcomer state = %v, Breakers() = %d; want closed (untracked), 8", got, n)
	}
	for i := range 8 {
		if err := sendTo(t, rt, fmt.Sprintf("bad%d", i)); !errors.Is(err, call.ErrCircuitOpen) {
			t.Errorf("send to bad%d err = %v; want ErrCircuitOpen (kept)", i, err)
		}
	}
	// Once their OpenTimeout passed, stale open breakers make room.
	clk.Advance(31 * time.Second)
	_ = sendTo(t, rt, "bad-newcomer")
	if got := c.BreakerState("bad-newcomer"); got != call.StateOpen {
		t.Errorf("newcomer state after timeouts = %v; want open (tracked now)", got)
	}
	if n := c.Breakers(); n > 8 {
		t.Errorf("Breakers() = %d; want <= 8", n)
	}
}

func TestBreaker_perHost(t *testing.T) {
	t.Parallel()
	c := newClient(t, call.WithTransport(roundTripFunc(statusByHost)),
		call.WithRetry(call.RetryPolicy{MaxAttempts: 1}), call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 2}))
	rt := c.Transport()
	for range 2 {
		_ = sendTo(t, rt, "bad.example")
	}
	if err := sendTo(t, rt, "BAD.example"); !errors.Is(err, call.ErrCircuitOpen) {
		t.Errorf("send to BAD.example err = %v; want ErrCircuitOpen (same host as bad.example)", err)
	}
	if err := sendTo(t, rt, "good.example"); err != nil {
		t.Errorf("send to good.example err = %v; want nil (own breaker)", err)
	}
	if n := c.Breakers(); n != 2 {
		t.Errorf("Breakers() = %d; want 2", n)
	}
}

func TestBreakerPolicy_invalidPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    call.BreakerPolicy
	}{
		{"ratio above 1", call.BreakerPolicy{FailureRatio: 1.5}},
		{"negative ratio", call.BreakerPolicy{FailureRatio: -0.1}},
		{"nothing trips", call.BreakerPolicy{ConsecutiveFailures: -1}},
		{"negative MinRequests", call.BreakerPolicy{MinRequests: -1}},
		{"negative Window", call.BreakerPolicy{Window: -1}},
		{"negative OpenTimeout", call.BreakerPolicy{OpenTimeout: -1}},
		{"negative HalfOpenProbes", call.BreakerPolicy{HalfOpenProbes: -1}},
		{"negative MaxHosts", call.BreakerPolicy{MaxHosts: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.HasPrefix(msg, "call.WithBreaker: ") {
					t.Errorf("WithBreaker(%+v) panic = %v; want a call.WithBreaker message", tc.p, r)
				}
			}()
			call.WithBreaker(tc.p)
		})
	}
}

func TestState_String(t *testing.T) {
	t.Parallel()
	for st, want := range map[call.State]string{
		call.StateClosed: "closed", call.StateOpen: "open", call.StateHalfOpen: "half_open", call.State(9): "unknown",
	} {
		if got := st.String(); got != want {
			t.Errorf("State(%d).String() = %q; want %q", int(st), got, want)
		}
	}
}

func TestBreaker_openRejectsBeforeTokenWork(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	var fetches atomic.Int64
	src := call.TokenFunc(func(context.Context) (call.Token, error) {
		fetches.Add(1)
		return call.Token{Value: "t", Expiry: epoch}, nil // already expired: every attempt fetches
	})
	c := newClient(t, call.WithTokenSource(src), call.WithRetry(call.RetryPolicy{MaxAttempts: 1}),
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 2}))
	for range 2 {
		_, _ = get(c, s.URL) // one fetch each; the second failure opens the breaker
	}
	if got := fetches.Load(); got != 2 {
		t.Fatalf("token fetches before the breaker opened = %d; want 2", got)
	}
	for range 3 {
		if _, err := get(c, s.URL); !errors.Is(err, call.ErrCircuitOpen) {
			t.Fatalf("get while open err = %v; want ErrCircuitOpen", err)
		}
	}
	if got := fetches.Load(); got != 2 {
		t.Errorf("token fetches after 3 rejections = %d; want still 2", got)
	}
}

// panicky is a base transport for panic tests: X-Status sets the status
// (200 by default), X-Panic makes it panic, and X-Block makes it wait until
// unblock is closed, after signalling entered.
type panicky struct {
	entered, unblock chan struct{}
}

func (p *panicky) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	if r.Header.Get("X-Panic") != "" {
		panic("transport panic")
	}
	if r.Header.Get("X-Block") != "" {
		close(p.entered)
		<-p.unblock
	}
	st := http.StatusOK
	if v := r.Header.Get("X-Status"); v != "" {
		fmt.Sscan(v, &st)
	}
	h := http.Header{}
	if r.Header.Get("X-Panic-Classify") != "" {
		h.Set("X-Panic-Classify", "1")
	}
	return &http.Response{StatusCode: st, Header: h, Body: http.NoBody, Request: r}, nil
}

// mustPanic runs f and reports whether it panicked.
func mustPanic(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

func TestBreaker_panicDuringProbeReleasesSlot(t *testing.T) {
	t.Parallel()
	newReq := func(hdr ...string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, "http://svc.test/", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		return req
	}
	tests := []struct {
		name        string
		hookPanics  bool
		probe       func() *http.Request
		openAfter   bool // the panic counts as a failure: wait OpenTimeout again
		getBodyCase bool
	}{
		{name: "base transport", probe: func() *http.Request { return newReq("X-Panic", "1") }, openAfter: true},
		{name: "IsFailure", probe: func() *http.Request { return newReq("X-Panic-Classify", "1") }, openAfter: true},
		{name: "OnStateChange", hookPanics: true, probe: func() *http.Request { return newReq() }},
		{name: "GetBody", getBodyCase: true, probe: func() *http.Request {
			// The first attempt gets a 503 (a success for this IsFailure,
			// retried by default); the retry's GetBody panics.
			req, _ := http.NewRequest(http.MethodPut, "http://svc.test/", strings.NewReader("x"))
			req.GetBody = func() (io.ReadCloser, error) { panic("GetBody panic") }
			req.Header.Set("X-Status", "503")
			return req
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := fakeclock.New(epoch)
			var hookPanicked atomic.Bool
			base := &panicky{entered: make(chan struct{}), unblock: make(chan struct{})}
			c := newClient(t, call.WithClock(clk.Now), call.WithTransport(base),
				call.WithRetry(fastRetry), call.WithRetryBudget(call.RetryBudget{Unlimited: true}),
				call.WithBreaker(call.BreakerPolicy{
					ConsecutiveFailures: 1, HalfOpenProbes: 2, OpenTimeout: time.Second,
					IsFailure: func(resp *http.Response, err error) bool {
						if resp != nil && resp.Header.Get("X-Panic-Classify") != "" {
							panic("IsFailure panic")
						}
						return err != nil || resp.StatusCode == http.StatusInternalServerError
					},
					OnStateChange: func(_ string, _, to call.State) {
						if tc.hookPanics && to == call.StateHalfOpen && hookPanicked.CompareAndSwap(false, true) {
							panic("OnStateChange panic")
						}
					},
				}))
			rt := c.Transport()
			send := func(req *http.Request) error {
				resp, err := rt.RoundTrip(req)
				if err == nil {
					_ = resp.Body.Close()
				}
				return err
			}
			// Trip the breaker (a 500 is a failure, not retried), then let
			// it go half-open: the next request is a probe.
			if err := send(newReq("X-Status", "500")); err != nil {
				t.Fatalf("tripping request err = %v", err)
			}
			if st := c.BreakerState("svc.test"); st != call.StateOpen {
				t.Fatalf("BreakerState after a failure = %v; want open", st)
			}
			clk.Advance(time.Second)
			if !mustPanic(func() { _ = send(tc.probe()) }) {
				t.Fatalf("probe did not panic")
			}
			if tc.openAfter {
				if st := c.BreakerState("svc.test"); st != call.StateOpen {
					t.Errorf("BreakerState after a panicking probe = %v; want open (a panic is a failure)", st)
				}
				clk.Advance(time.Second)
			}
			// Both probe slots must be free: one probe blocks in the
			// transport while the second is admitted and succeeds.
			first := make(chan error, 1)
			go func() { first <- send(newReq("X-Block", "1")) }()
			<-base.entered
			if err := send(newReq()); err != nil {
				t.Errorf("second concurrent probe err = %v; want it admitted", err)
			}
			close(base.unblock)
			if err := <-first; err != nil {
				t.Errorf("first concurrent probe err = %v; want nil", err)
			}
			if st := c.BreakerState("svc.test"); st != call.StateClosed {
				t.Errorf("BreakerState after two successful probes = %v; want closed", st)
			}
		})
	}
}
