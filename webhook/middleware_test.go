package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/chassis-go/chassis/problem"
	"github.com/chassis-go/chassis/webhook"
)

// signed returns a POST carrying body signed with secret as message id at ts.
func signed(t testing.TB, secret, id string, ts time.Time, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest("POST", "/hook", strings.NewReader(body))
	sig, err := webhook.Sign(secret, id, ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set(webhook.HeaderID, id)
	r.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	r.Header.Set(webhook.HeaderSignature, sig)
	return r
}

// receiver records the bodies it got and answers with status (200 if 0).
type receiver struct {
	status atomic.Int64
	calls  atomic.Int64
	last   atomic.Value // string
}

func (h *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.calls.Add(1)
	b, _ := io.ReadAll(r.Body)
	h.last.Store(string(b))
	if s := h.status.Load(); s != 0 {
		w.WriteHeader(int(s))
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	type req struct {
		secret, id string
		age        time.Duration // how old the timestamp is
		body       string
		edit       func(r *http.Request)
		status     int
	}
	tests := []struct {
		name    string
		opts    []webhook.MiddlewareOption
		handler int // the handler's status
		reqs    []req
		calls   int64
	}{
		{"accepted then replay refused", nil, 0, []req{
			{vecSecret, "m1", 0, "hello", nil, 200},
			{vecSecret, "m1", 0, "hello", nil, 401},                // the same message again
			{vecSecret, "m1", -time.Second, "hello", nil, 401},     // the same id re-signed
			{vecSecret, "m2", 0, "hello", nil, 200},                // another id
			{vecSecret, "m3", 10 * time.Minute, "hello", nil, 401}, // stale
		}, 2},
		{"5xx forgets the id", nil, 503, []req{
			{vecSecret, "m1", 0, "hello", nil, 503},
			{vecSecret, "m1", 0, "hello", nil, 503},
		}, 2},
		{"bad signatures", nil, 0, []req{
			{otherKey, "m1", 0, "hello", nil, 401},
			{vecSecret, "m1", 0, "hello", func(r *http.Request) { r.Header.Del(webhook.HeaderSignature) }, 401},
			{vecSecret, "m1", 0, "hello", func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("hellO")) }, 401},
			{vecSecret, strings.Repeat("i", 257), 0, "hello", nil, 401},
			{vecSecret, "m1", 0, "hello", nil, 200}, // failures did not burn the id
		}, 1},
		{"body cap", []webhook.MiddlewareOption{webhook.MaxBody(5)}, 0, []req{
			{vecSecret, "m1", 0, "hello!", nil, 413},
			{vecSecret, "m1", 0, "hello", nil, 200},
		}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := fakeclock.New(vecTime)
			v, _ := webhook.NewVerifier(vecSecret)
			v = v.WithClock(clock.Now)
			rec := &receiver{}
			rec.status.Store(int64(tc.handler))
			h := v.Middleware(tc.opts...)(rec)
			for i, q := range tc.reqs {
				r := signed(t, q.secret, q.id, vecTime.Add(-q.age), q.body)
				if q.edit != nil {
					q.edit(r)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != q.status {
					t.Fatalf("request %d: status %d; want %d (%s)", i, w.Code, q.status, w.Body)
				}
				if q.status != 200 && q.status != tc.handler && w.Header().Get("Content-Type") != problem.ContentType {
					t.Errorf("request %d: Content-Type %q; want problem+json", i, w.Header().Get("Content-Type"))
				}
				if q.status == 200 && rec.last.Load() != q.body {
					t.Errorf("request %d: handler read %q; want %q", i, rec.last.Load(), q.body)
				}
			}
			if got := rec.calls.Load(); got != tc.calls {
				t.Errorf("handler calls = %d; want %d", got, tc.calls)
			}
		})
	}
}

// TestReplayWindow checks an id is remembered exactly while its timestamp
// is within tolerance, then forgotten (memory stays bounded by time).
func TestReplayWindow(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(vecTime)
	cache := webhook.NewMemoryReplayCache(webhook.WithClock(clock.Now))
	v, _ := webhook.NewVerifier(vecSecret)
	v = v.WithClock(clock.Now)
	h := v.Middleware(webhook.WithReplayCache(cache))(&receiver{})
	send := func(ts time.Time) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signed(t, vecSecret, "m1", ts, "x"))
		return w.Code
	}
	if c := send(vecTime); c != 200 {
		t.Fatalf("first: %d", c)
	}
	clock.Advance(webhook.DefaultTolerance - time.Second)
	if c := send(clock.Now()); c != 401 {
		t.Errorf("re-signed within the window: %d; want 401", c)
	}
	clock.Advance(time.Second)
	if c := send(clock.Now()); c != 200 {
		t.Errorf("re-signed after the first timestamp left tolerance: %d; want 200", c)
	}
	if cache.Len() != 1 {
		t.Errorf("cache.Len() = %d; want 1 (the expired claim dropped)", cache.Len())
	}
}

func TestMemoryReplayCacheFull(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(vecTime)
	c := webhook.NewMemoryReplayCache(webhook.MaxIDs(2), webhook.WithClock(clock.Now))
	ctx := context.Background()
	exp := vecTime.Add(time.Minute)
	for i, want := range []struct {
		id    string
		fresh bool
		err   error
	}{{"a", true, nil}, {"b", true, nil}, {"a", false, nil}, {"c", false, webhook.ErrReplayCacheFull}} {
		fresh, err := c.Claim(ctx, want.id, exp)
		if fresh != want.fresh || !errors.Is(err, want.err) {
			t.Fatalf("claim %d (%s) = %v, %v; want %v, %v", i, want.id, fresh, err, want.fresh, want.err)
		}
	}
	_ = c.Forget(ctx, "a")
	if fresh, err := c.Claim(ctx, "c", exp); !fresh || err != nil {
		t.Fatalf("after Forget: Claim(c) = %v, %v; want true, nil", fresh, err)
	}
	clock.Advance(time.Minute)
	for _, id := range []string{"d", "e"} {
		if fresh, err := c.Claim(ctx, id, exp.Add(time.Minute)); !fresh || err != nil {
			t.Fatalf("after expiry: Claim(%s) = %v, %v; want true, nil", id, fresh, err)
		}
	}
	// Many claim/forget cycles must not grow the heap without bound.
	for i := range 1000 {
		id := "x" + strconv.Itoa(i)
		_ = c.Forget(ctx, "e")
		if fresh, err := c.Claim(ctx, id, exp.Add(time.Minute)); !fresh || err != nil {
			t.Fatalf("cycle %d: %v, %v", i, fresh, err)
		}
		_ = c.Forget(ctx, id)
		_, _ = c.Claim(ctx, "e", exp.Add(time.Minute))
	}
	if c.Len() > 2 {
		t.Errorf("Len() = %d; want at most 2", c.Len())
	}
}

type failCache struct{}

func (failCache) Claim(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("down")
}
func (failCache) Forget(context.Context, string) error { return nil }

func TestReplayCacheDown(t *testing.T) {
	t.Parallel()
	v, _ := webhook.NewVerifier(vecSecret)
	v = v.WithClock(fakeclock.New(vecTime).Now)
	rec := &receiver{}
	w := httptest.NewRecorder()
	v.Middleware(webhook.WithReplayCache(failCache{}))(rec).ServeHTTP(w, signed(t, vecSecret, "m", vecTime, "x"))
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || rec.calls.Load() != 0 {
		t.Errorf("cache down: %d Retry-After %q calls %d; want 503 with Retry-After, handler not called",
			w.Code, w.Header().Get("Retry-After"), rec.calls.Load())
	}
}

func TestMiddlewarePanicForgets(t *testing.T) {
	t.Parallel()
	v, _ := webhook.NewVerifier(vecSecret)
	v = v.WithClock(fakeclock.New(vecTime).Now)
	var calls atomic.Int64
	h := v.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			panic("boom")
		}
	}))
	func() {
		defer func() {
			if recover() != "boom" {
				t.Error("panic did not propagate")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), signed(t, vecSecret, "m", vecTime, "x"))
	}()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signed(t, vecSecret, "m", vecTime, "x"))
	if w.Code != 200 || calls.Load() != 2 {
		t.Errorf("retry after panic: %d, calls %d; want 200, 2", w.Code, calls.Load())
	}
}

func TestMiddlewareFlush(t *testing.T) {
	t.Parallel()
	v, _ := webhook.NewVerifier(vecSecret)
	v = v.WithClock(fakeclock.New(vecTime).Now)
	var err error
	var isFlusher bool
	h := v.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, isFlusher = w.(http.Flusher)
		err = http.NewResponseController(w).Flush()
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signed(t, vecSecret, "m", vecTime, "x"))
	if err != nil || !w.Flushed || !isFlusher {
		t.Errorf("Flush behind the middleware: %v, flushed %v, http.Flusher %v; want nil, true, true", err, w.Flushed, isFlusher)
	}
}

func TestNilOptions(t *testing.T) {
	t.Parallel()
	v, _ := webhook.NewVerifier(vecSecret)
	v = v.WithClock(nil).WithClock(fakeclock.New(vecTime).Now)
	w := httptest.NewRecorder()
	v.Middleware(nil, webhook.WithReplayCache(nil))(&receiver{}).ServeHTTP(w, signed(t, vecSecret, "m", vecTime, "x"))
	if w.Code != 200 {
		t.Errorf("middleware with nil options: %d; want 200", w.Code)
	}
	c := webhook.NewMemoryReplayCache(nil, webhook.WithClock(nil))
	if fresh, err := c.Claim(context.Background(), "m", time.Now().Add(time.Hour)); !fresh || err != nil {
		t.Errorf("cache with nil options: %v, %v", fresh, err)
	}
	s := webhook.NewSender(nil, nil, webhook.WithClock(nil))
	if s == nil {
		t.Error("NewSender(nil, nil options) = nil")
	}
	if tr := webhook.NewTransport(nil); tr.Proxy != nil {
		t.Error("NewTransport uses a proxy")
	}
}

func TestOptionPanics(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f    func()
		want string
	}{
		{func() { webhook.MaxBody(0) }, "webhook.MaxBody: n must be at least 1, got 0"},
		{func() { webhook.MaxIDs(0) }, "webhook.MaxIDs: n must be at least 1, got 0"},
		{func() { webhook.WithSchedule(time.Second, -1) }, "webhook.WithSchedule: delays[1] is negative (-1ns)"},
	} {
		func() {
			defer func() {
				if got, _ := recover().(string); got != tc.want {
					t.Errorf("panic = %q; want %q", got, tc.want)
				}
			}()
			tc.f()
		}()
	}
}
