package guard

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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

// TestTimeoutOverrunsMetric counts three requests whose deadline passed
// before the handler returned. Only a handler still running overrunGrace
// after the deadline is an overrun: afterFunc captures the check that
// Timeout schedules, and the test runs it when the handler has returned
// (or not), so no timer decides the outcome.
func TestTimeoutOverrunsMetric(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// handler gets the request's decided hook signal and the test's
		// release channel.
		handler func(decided, release <-chan struct{}) http.HandlerFunc
		returns bool // the handler returns before the grace check runs
		want    int64
	}{
		{
			name: "handler ignoring its deadline",
			handler: func(_, release <-chan struct{}) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { <-release }
			},
			want: 3,
		},
		{
			name: "handler honouring its deadline",
			handler: func(decided, _ <-chan struct{}) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					<-r.Context().Done()
					<-decided // return only once Timeout has given up on us
				}
			},
			returns: true,
			want:    0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			mw := Timeout(time.Hour, WithMeterProvider(mp))
			for range 3 {
				decided, release, exited := make(chan struct{}), make(chan struct{}), make(chan struct{})
				h := mw(tc.handler(decided, release)).(*timeoutHandler)
				h.decided = func() { close(decided) }
				h.exited = func() { close(exited) }
				var checks []func()
				h.afterFunc = func(d time.Duration, f func()) {
					if d != overrunGrace {
						t.Errorf("overrun check scheduled after %v; want %v", d, overrunGrace)
					}
					checks = append(checks, f)
				}
				// The deadline has passed before the handler starts.
				ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
				cancel()
				if rec.Code != http.StatusGatewayTimeout || len(checks) != 1 {
					t.Fatalf("response %d with %d overrun checks; want 504 and 1", rec.Code, len(checks))
				}
				if tc.returns {
					<-exited
				}
				checks[0]()
				close(release)
				<-exited
			}
			if got := timeoutOverruns(t, reader); got != tc.want {
				t.Errorf("chassis.timeout.overruns = %d; want %d", got, tc.want)
			}
		})
	}
}

// TestTimeoutOverrunsNotInTime: a handler that returns in time schedules no
// overrun check.
func TestTimeoutOverrunsNotInTime(t *testing.T) {
	t.Parallel()
	h := Timeout(time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})).(*timeoutHandler)
	h.afterFunc = func(time.Duration, func()) { t.Error("overrun check scheduled for a handler that returned in time") }
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("status = %d; want 204", rec.Code)
	}
}

// TestTimeoutClientGoneHandlerPastDeadline: when the client went away after
// the response started, Timeout waits for the handler until the deadline
// (here a channel the test fires), then aborts the response.
func TestTimeoutClientGoneHandlerPastDeadline(t *testing.T) {
	t.Parallel()
	flushed, release, exited := make(chan struct{}), make(chan struct{}), make(chan struct{})
	h := Timeout(time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		close(flushed)
		<-release
	})).(*timeoutHandler)
	h.exited = func() { close(exited) }
	waiting, fire := make(chan struct{}), make(chan time.Time)
	h.deadlineAfter = func(d time.Duration) <-chan time.Time {
		if d <= 0 || d > time.Hour {
			t.Errorf("waiting %v for the deadline; want the rest of the hour", d)
		}
		close(waiting)
		return fire
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan any)
	go func() {
		defer func() { done <- recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	}()
	<-flushed
	cancel()  // the client goes away
	<-waiting // Timeout waits for the handler
	fire <- time.Time{}
	p := <-done
	close(release)
	<-exited
	if p != http.ErrAbortHandler {
		t.Errorf("Timeout panicked with %v; want http.ErrAbortHandler at the deadline", p)
	}
}

// TestTimeoutClientGoneAfterResponse: a client that read a complete response
// closes at once, which ends the request context while the handler is still
// returning. A complete response is not an abort (nor a panic in the access
// log). The decided hook holds the handler until the serving goroutine has
// seen the context end, the moment that used to abort.
func TestTimeoutClientGoneAfterResponse(t *testing.T) {
	t.Parallel()
	flushed, decided, exited := make(chan struct{}), make(chan struct{}), make(chan struct{})
	h := Timeout(time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "8")
		io.WriteString(w, "complete")
		http.NewResponseController(w).Flush()
		close(flushed)
		<-r.Context().Done() // the client went away
		<-decided
	})).(*timeoutHandler)
	h.decided = func() { close(decided) }
	h.exited = func() { close(exited) }
	ctx, cancel := context.WithCancel(context.Background())
	rec := httptest.NewRecorder()
	done := make(chan any)
	go func() {
		defer func() { done <- recover() }()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	}()
	<-flushed
	cancel()
	p := <-done
	<-exited
	if p != nil || rec.Code != http.StatusOK || rec.Body.String() != "complete" {
		t.Errorf("Timeout = %d %q, panic %v; want 200 %q and no panic", rec.Code, rec.Body, p, "complete")
	}
}

// hijackRecorder is a recorder whose connection can be hijacked.
type hijackRecorder struct {
	*httptest.ResponseRecorder
	conn net.Conn
}

func (h hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

// TestTimeoutClientGoneAfterHijack: when the request context ends after the
// handler hijacked the connection, Timeout returns at once: the connection
// is the handler's, and there is no response to wait for.
func TestTimeoutClientGoneAfterHijack(t *testing.T) {
	t.Parallel()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	hijacked, release, exited := make(chan struct{}), make(chan struct{}), make(chan struct{})
	h := Timeout(time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := http.NewResponseController(w).Hijack(); err != nil {
			t.Errorf("Hijack: %v", err)
		}
		close(hijacked)
		<-release
	})).(*timeoutHandler)
	h.exited = func() { close(exited) }
	h.deadlineAfter = func(time.Duration) <-chan time.Time {
		t.Error("Timeout waits for the deadline after a hijack; want it to return at once")
		fired := make(chan time.Time, 1)
		fired <- time.Time{}
		return fired
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan any)
	go func() {
		defer func() { done <- recover() }()
		h.ServeHTTP(hijackRecorder{httptest.NewRecorder(), c1}, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	}()
	<-hijacked
	cancel()
	if p := <-done; p != nil {
		t.Errorf("Timeout panicked with %v after a hijack; want a normal return", p)
	}
	close(release)
	<-exited
}

// TestCloneHeader: cloneHeader gives what http.Header.Clone gives (an empty
// map for nil), shares no value memory with src, and an append to one
// entry never writes into another's.
func TestCloneHeader(t *testing.T) {
	many := http.Header{}
	for i := range 20 {
		many.Add("X-Many", string(rune('a'+i)))
	}
	tests := []struct {
		name string
		src  http.Header
	}{
		{"nil", nil},
		{"empty", http.Header{}},
		{"nil value", http.Header{"A": nil, "B": {"1"}}},
		{"empty value", http.Header{"A": {}}},
		{"few", http.Header{"A": {"1", "2"}, "B": {"3"}}},
		{"more than the buffer", many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf [16]string
			got := cloneHeader(tt.src, buf[:])
			want := tt.src.Clone()
			if want == nil {
				want = http.Header{}
			}
			if len(got) != len(want) {
				t.Fatalf("cloneHeader = %v; want %v", got, want)
			}
			for k, v := range want {
				g, ok := got[k]
				if !ok || (g == nil) != (v == nil) || strings.Join(g, ",") != strings.Join(v, ",") {
					t.Errorf("[%s] = %#v; want %#v", k, g, v)
				}
			}
			for k, v := range got {
				if len(v) > 0 {
					v[0] = "changed"
					if tt.src[k][0] == "changed" {
						t.Errorf("[%s]: the copy shares its values with src", k)
					}
				}
				got[k] = append(v, "appended")
			}
			for k, v := range got {
				for _, s := range v[:len(v)-1] {
					if s == "appended" {
						t.Errorf("[%s] = %q: an append to another entry wrote into it", k, v)
					}
				}
			}
		})
	}
}
