package guard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/overload"
)

func TestShedPanics(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  guard.ShedConfig
		want string
	}{
		{"nil Limiter", guard.ShedConfig{}, "guard.Shed: cfg.Limiter is nil"},
		{"negative RetryAfter", guard.ShedConfig{Limiter: overload.NewLimiter(overload.Config{}), RetryAfter: -time.Second}, "guard.Shed: cfg.RetryAfter is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if msg, _ := recover().(string); !strings.HasPrefix(msg, tc.want) {
					t.Errorf("Shed(%+v) panicked with %q; want prefix %q", tc.cfg, msg, tc.want)
				}
			}()
			guard.Shed(tc.cfg)
		})
	}
}

// TestShedRefuses fills a limit of 1 with a handler that blocks, then checks
// what refused, exempt and prioritised requests see.
func TestShedRefuses(t *testing.T) {
	t.Parallel()
	l := overload.NewLimiter(overload.Config{Algorithm: overload.Fixed(1)})
	entered, release := make(chan struct{}), make(chan struct{})
	h := guard.Shed(guard.ShedConfig{
		Limiter: l,
		Exempt:  func(r *http.Request) bool { return r.URL.Path == "/readyz" },
		Priority: func(r *http.Request) overload.Priority {
			p, _ := overload.ParsePriority(r.Header.Get("X-Priority"))
			return p
		},
		RetryAfter: 1500 * time.Millisecond,
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/block", nil))
	}()
	<-entered

	for _, tc := range []struct {
		name, path, prio string
		want             int
	}{
		{"refused", "/api", "", http.StatusServiceUnavailable},
		{"critical also refused at the limit", "/api", "critical", http.StatusServiceUnavailable},
		{"exempt probe", "/readyz", "", http.StatusNoContent},
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, tc.path, nil)
		r.Header.Set("X-Priority", tc.prio)
		h.ServeHTTP(rec, r)
		if rec.Code != tc.want {
			t.Errorf("%s: status %d; want %d", tc.name, rec.Code, tc.want)
		}
		if tc.want != http.StatusServiceUnavailable {
			continue
		}
		var body struct {
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Status != 503 || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: body %q (%v), Content-Type %q; want a 503 problem+json", tc.name, rec.Body, err, rec.Header().Get("Content-Type"))
		}
		if got := rec.Header().Get("Retry-After"); got != "2" {
			t.Errorf("%s: Retry-After = %q; want 2 (1.5s rounded up)", tc.name, got)
		}
	}
	close(release)
	<-done
	if n := l.InFlight(); n != 0 {
		t.Errorf("InFlight() after the handler returned = %d; want 0", n)
	}
	st := l.Status()
	if got := st.Rejected[overload.Default][overload.ReasonLimit] + st.Rejected[overload.Critical][overload.ReasonLimit]; got != 2 {
		t.Errorf("rejections = %v; want 2 (the exempt probe is not counted)", st.Rejected)
	}
}

// TestShedOutcomes checks what each kind of response teaches the limiter.
// AIMD with 100 sequential requests (one window) shows the difference: a
// window with Dropped cuts 100 to 90, Success leaves it; Ignored adds no
// sample at all, so no baseline is learned.
func TestShedOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		handler   http.HandlerFunc
		ctx       func() (context.Context, context.CancelFunc)
		wantLimit int
		sampled   bool
	}{
		{"200 is Success", func(w http.ResponseWriter, r *http.Request) {}, nil, 100, true},
		{"500 is Success", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, nil, 100, true},
		{"503 is Dropped", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, nil, 90, true},
		{"504 is Dropped", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(504) }, nil, 90, true},
		{"deadline exceeded is Dropped", func(w http.ResponseWriter, r *http.Request) {}, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Hour))
			return &endsAfterAcquire{Context: ctx, err: context.DeadlineExceeded}, cancel
		}, 90, true},
		{"client gone is Ignored", func(w http.ResponseWriter, r *http.Request) {}, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			return &endsAfterAcquire{Context: ctx, err: context.Canceled}, cancel
		}, 100, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := overload.NewLimiter(overload.Config{Algorithm: overload.AIMD(), InitialLimit: 100})
			h := guard.Shed(guard.ShedConfig{Limiter: l})(tc.handler)
			for range 100 {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				if tc.ctx != nil {
					ctx, cancel := tc.ctx()
					r = r.WithContext(ctx)
					defer cancel()
				}
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
			st := l.Status()
			if st.Limit != tc.wantLimit || (st.Baseline > 0) != tc.sampled || st.InFlight != 0 {
				t.Errorf("after 100 requests: Limit %d, Baseline %v, InFlight %d; want %d, sampled %v, 0", st.Limit, st.Baseline, st.InFlight, tc.wantLimit, tc.sampled)
			}
		})
	}
}

// endsAfterAcquire reports no error on its first Err call (the limiter's)
// and err afterwards, as when the client leaves (Canceled) or the deadline
// passes (DeadlineExceeded) while the handler runs. It is used by one
// goroutine at a time.
type endsAfterAcquire struct {
	context.Context
	err   error
	calls int
}

func (c *endsAfterAcquire) Err() error {
	c.calls++
	if c.calls == 1 {
		return nil
	}
	return c.err
}

func TestShedHandlerPanicReleases(t *testing.T) {
	t.Parallel()
	l := overload.NewLimiter(overload.Config{Algorithm: overload.Fixed(1)})
	h := guard.Shed(guard.ShedConfig{Limiter: l})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v; want the handler's panic to go on", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	if n := l.InFlight(); n != 0 {
		t.Errorf("InFlight() after a panic = %d; want 0", n)
	}
}

func TestShedKeepsFlusher(t *testing.T) {
	t.Parallel()
	l := overload.NewLimiter(overload.Config{})
	h := guard.Shed(guard.ShedConfig{Limiter: l})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through Shed = %v; want nil", err)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !rec.Flushed {
		t.Error("the recorder was not flushed")
	}
}

func BenchmarkShed(b *testing.B) {
	l := overload.NewLimiter(overload.Config{})
	h := guard.Shed(guard.ShedConfig{Limiter: l})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
