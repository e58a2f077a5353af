package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/webhook"
)

// scripted is a receiver that verifies every delivery and answers the
// statuses of its script in turn (200 once it runs out).
type scripted struct {
	t      *testing.T
	v      *webhook.Verifier
	mu     sync.Mutex
	script []int
	header http.Header // extra response headers
	ids    []string
	stamps []string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body := make([]byte, r.ContentLength)
	_, _ = r.Body.Read(body)
	if err := s.v.Verify(r.Header, body); err != nil {
		s.t.Errorf("delivery %d does not verify: %v", len(s.ids)+1, err)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		s.t.Errorf("Content-Type = %q; want application/json", ct)
	}
	s.ids = append(s.ids, r.Header.Get(webhook.HeaderID))
	s.stamps = append(s.stamps, r.Header.Get(webhook.HeaderTimestamp))
	status := 200
	if len(s.script) > 0 {
		status, s.script = s.script[0], s.script[1:]
	}
	for k, vs := range s.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
}

// testSender returns a Sender allowed to reach loopback, whose clock moves
// by each wait it is asked for, and the waits.
func testSender(t *testing.T, opts ...webhook.SenderOption) (*webhook.Sender, *fakeclock.Clock, *[]time.Duration) {
	t.Helper()
	clock := fakeclock.New(time.Now())
	c := call.New(call.WithTransport(webhook.NewTransport(webhook.AllowLoopback())), call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 100}))
	t.Cleanup(c.CloseIdleConnections)
	s := webhook.NewSender(c, append([]webhook.SenderOption{webhook.WithClock(clock.Now)}, opts...)...)
	var waits []time.Duration
	webhook.SetWait(s, func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		clock.Advance(d)
		return ctx.Err()
	})
	return s, clock, &waits
}

func newScripted(t *testing.T, clock *fakeclock.Clock, script ...int) (*scripted, string) {
	v, _ := webhook.NewVerifier(vecSecret)
	rcv := &scripted{t: t, v: v.WithClock(clock.Now), script: script}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	return rcv, srv.URL + "/hook?token=secret"
}

var msg = webhook.Message{ID: "msg_1", Body: []byte(`{"type":"invoice.paid"}`)}

func TestSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		script    []int
		header    http.Header
		schedule  []time.Duration
		wantErr   error // matched with errors.Is; nil for success
		status    int   // of the DeliveryError
		attempts  int
		minWaits  []time.Duration // each wait must be in [min, min*1.1]
		exactWait bool            // waits are exact (Retry-After)
	}{
		{"first try", nil, nil, nil, nil, 0, 1, nil, false},
		{"retries then succeeds", []int{503, 500, 200}, nil, nil, nil, 0, 3, []time.Duration{5 * time.Second, 5 * time.Minute}, false},
		{"Retry-After wins", []int{429}, http.Header{"Retry-After": {"3600"}}, nil, nil, 0, 2, []time.Duration{time.Hour}, true},
		{"gone", []int{410}, nil, nil, webhook.ErrGone, 410, 1, nil, false},
		{"exhausted", []int{500, 500, 500}, nil, []time.Duration{time.Second, time.Second}, &webhook.DeliveryError{}, 500, 3, []time.Duration{time.Second, time.Second}, false},
		{"redirect not followed", []int{302}, http.Header{"Location": {"/elsewhere"}}, []time.Duration{}, &webhook.DeliveryError{}, 302, 1, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []webhook.SenderOption
			if tc.schedule != nil {
				opts = append(opts, webhook.WithSchedule(tc.schedule...))
			}
			s, clock, waits := testSender(t, opts...)
			rcv, url := newScripted(t, clock, tc.script...)
			rcv.header = tc.header
			err := s.Send(context.Background(), webhook.Endpoint{URL: url, Secrets: []string{otherKey, vecSecret}}, msg)
			var de *webhook.DeliveryError
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Send = %v; want nil", err)
			case tc.wantErr != nil && !errors.As(err, &de):
				t.Fatalf("Send = %v; want a *DeliveryError", err)
			case tc.wantErr == webhook.ErrGone && !errors.Is(err, webhook.ErrGone):
				t.Errorf("Send = %v; want it to match ErrGone", err)
			case de != nil && (de.Status != tc.status || de.Attempts != tc.attempts):
				t.Errorf("DeliveryError = status %d after %d attempts; want %d after %d", de.Status, de.Attempts, tc.status, tc.attempts)
			}
			if de != nil && (containsQuery(de.Error()) || containsQuery(de.Endpoint)) {
				t.Errorf("error %q leaks the query string", de)
			}
			if len(rcv.ids) != tc.attempts {
				t.Fatalf("receiver got %d deliveries; want %d", len(rcv.ids), tc.attempts)
			}
			for i, id := range rcv.ids {
				if id != msg.ID {
					t.Errorf("delivery %d: webhook-id %q; want %q", i, id, msg.ID)
				}
				if i > 0 && rcv.stamps[i] == rcv.stamps[i-1] {
					t.Errorf("delivery %d reused the timestamp of the one before", i)
				}
			}
			if len(*waits) != len(tc.minWaits) {
				t.Fatalf("waits = %v; want %d of them", *waits, len(tc.minWaits))
			}
			for i, w := range *waits {
				lo, hi := tc.minWaits[i], tc.minWaits[i]+tc.minWaits[i]/10
				if tc.exactWait {
					hi = lo
				}
				if w < lo || w > hi {
					t.Errorf("wait %d = %v; want in [%v, %v]", i, w, lo, hi)
				}
			}
		})
	}
}

func containsQuery(s string) bool { return strings.Contains(s, "token=") }

// TestSSRF checks the default transport refuses loopback, including through
// a host name (the check runs at dial time on the resolved address), and
// that nothing reaches the server.
func TestSSRF(t *testing.T) {
	t.Parallel()
	var reached atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Store(true) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c := call.New(call.WithTransport(webhook.NewTransport()))
	defer c.CloseIdleConnections()
	s := webhook.NewSender(c)
	for _, url := range []string{srv.URL, "http://localhost:" + port + "/", "http://[::ffff:127.0.0.1]:" + port + "/"} {
		err := s.Send(context.Background(), webhook.Endpoint{URL: url, Secrets: []string{vecSecret}}, msg)
		if !errors.Is(err, webhook.ErrForbiddenDestination) || !webhook.IsPermanent(err) {
			t.Errorf("Send(%s) = %v; want ErrForbiddenDestination, permanent", url, err)
		}
	}
	if reached.Load() {
		t.Error("a refused delivery reached the server")
	}
}

func TestSendCancelled(t *testing.T) {
	t.Parallel()
	s, clock, _ := testSender(t)
	_, url := newScripted(t, clock, 503, 503)
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("shutting down")
	webhook.SetWait(s, func(ctx context.Context, d time.Duration) error { cancel(cause); return context.Cause(ctx) })
	if err := s.Send(ctx, webhook.Endpoint{URL: url, Secrets: []string{vecSecret}}, msg); err != cause {
		t.Errorf("Send with ctx cancelled during backoff = %v; want the cause", err)
	}
}

func TestBadMessage(t *testing.T) {
	t.Parallel()
	s, _, waits := testSender(t)
	for _, tc := range []struct {
		ep webhook.Endpoint
		m  webhook.Message
	}{
		{webhook.Endpoint{URL: "http://127.0.0.1:1/", Secrets: []string{"whsec_%"}}, msg},
		{webhook.Endpoint{URL: "http://127.0.0.1:1/"}, msg},
		{webhook.Endpoint{URL: "http://127.0.0.1:1/", Secrets: []string{vecSecret}}, webhook.Message{}},
		{webhook.Endpoint{URL: "::", Secrets: []string{vecSecret}}, msg},
	} {
		if err := s.Send(context.Background(), tc.ep, tc.m); !webhook.IsPermanent(err) {
			t.Errorf("Send(%+v, %+v) = %v; want a permanent error", tc.ep, tc.m, err)
		}
	}
	if len(*waits) != 0 {
		t.Errorf("waits = %v; want none", *waits)
	}
}

func TestNext(t *testing.T) {
	t.Parallel()
	s := webhook.NewSender(nil, webhook.WithSchedule(time.Minute))
	for _, tc := range []struct {
		attempt int
		err     error
		retry   bool
		min     time.Duration
	}{
		{1, &webhook.DeliveryError{Status: 500}, true, time.Minute},
		{1, &webhook.DeliveryError{Status: 429, RetryAfter: 48 * time.Hour}, true, webhook.MaxRetryAfter},
		{2, &webhook.DeliveryError{Status: 500}, false, 0},
		{1, &webhook.DeliveryError{Status: 410}, false, 0},
		{0, &webhook.DeliveryError{Status: 500}, false, 0},
	} {
		d, retry := s.Next(tc.attempt, tc.err)
		if retry != tc.retry || d < tc.min || d > tc.min+tc.min/10 {
			t.Errorf("Next(%d, %v) = %v, %v; want %v in [%v, +10%%]", tc.attempt, tc.err, d, retry, tc.retry, tc.min)
		}
	}
}

// TestSendBreaker checks the client's per-host breaker spares a failing
// endpoint: an attempt while it is open fails fast (nothing sent) and is
// retried on the schedule, and the probe after OpenTimeout delivers.
func TestSendBreaker(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Now())
	c := call.New(call.WithTransport(webhook.NewTransport(webhook.AllowLoopback())), call.WithClock(clock.Now),
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 1, OpenTimeout: 30 * time.Second}))
	defer c.CloseIdleConnections()
	s := webhook.NewSender(c, webhook.WithClock(clock.Now), webhook.WithSchedule(time.Second, time.Minute))
	var errs []error
	webhook.SetWait(s, func(ctx context.Context, d time.Duration) error { clock.Advance(d); return nil })
	rcv, url := newScripted(t, clock, 500)
	ep := webhook.Endpoint{URL: url, Secrets: []string{vecSecret}}
	for range 3 { // the attempts Send would make, observed one by one
		err := s.Attempt(context.Background(), ep, msg)
		errs = append(errs, err)
		if err == nil {
			break
		}
		d, _ := s.Next(len(errs), err)
		clock.Advance(d)
	}
	if len(errs) != 3 || errs[2] != nil || !errors.Is(errs[1], call.ErrCircuitOpen) {
		t.Fatalf("attempts = %v; want a 500, then ErrCircuitOpen, then success", errs)
	}
	if len(rcv.ids) != 2 {
		t.Errorf("receiver got %d deliveries; want 2 (none while the breaker was open)", len(rcv.ids))
	}
	// Send end to end, against an endpoint that keeps failing: the breaker
	// fails the attempts fast and Send reports the last.
	_, down := newScripted(t, clock, 500, 500, 500)
	err := s.Send(context.Background(), webhook.Endpoint{URL: down, Secrets: []string{vecSecret}}, msg)
	var de *webhook.DeliveryError
	if !errors.As(err, &de) || de.Attempts != 3 {
		t.Errorf("Send to a failing endpoint = %v; want a DeliveryError after 3 attempts", err)
	}
}
