package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

// wire mirrors the documented readiness JSON.
type wire struct {
	Status   string `json:"status"`
	Draining bool   `json:"draining"`
	Checks   []struct {
		Name       string   `json:"name"`
		Status     string   `json:"status"`
		Critical   bool     `json:"critical"`
		Error      *string  `json:"error"`
		DurationMS *float64 `json:"duration_ms"`
	} `json:"checks"`
}

func serve(t *testing.T, h http.Handler, method string) (*httptest.ResponseRecorder, wire) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "/readyz", nil))
	var w wire
	if method != http.MethodHead && rec.Code != http.StatusMethodNotAllowed {
		if err := json.Unmarshal(rec.Body.Bytes(), &w); err != nil {
			t.Fatalf("body %q: %v", rec.Body.String(), err)
		}
	}
	return rec, w
}

func TestReadyHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(c *health.Checker)
		opts       []health.HandlerOption
		wantCode   int
		wantStatus string
		wantChecks string // name:status:critical:error, sorted
	}{
		{
			name:       "no checks",
			setup:      func(*health.Checker) {},
			wantCode:   200,
			wantStatus: "up",
		},
		{
			name: "all up",
			setup: func(c *health.Checker) {
				c.Add("db", ok)
				c.Add("api", ok)
			},
			wantCode:   200,
			wantStatus: "up",
			wantChecks: "api:up:true: db:up:true:",
		},
		{
			name: "critical down",
			setup: func(c *health.Checker) {
				c.Add("db", fail)
				c.Add("api", ok)
			},
			opts:       []health.HandlerOption{health.ShowErrors()},
			wantCode:   503,
			wantStatus: "down",
			wantChecks: "api:up:true: db:down:true:boom",
		},
		{
			name: "non-critical down",
			setup: func(c *health.Checker) {
				c.Add("db", ok)
				c.Add("cache", fail, health.NonCritical())
			},
			opts:       []health.HandlerOption{health.ShowErrors()},
			wantCode:   200,
			wantStatus: "up",
			wantChecks: "cache:down:false:boom db:up:true:",
		},
		{
			name: "errors hidden by default",
			setup: func(c *health.Checker) {
				c.Add("db", fail)
			},
			wantCode:   503,
			wantStatus: "down",
			wantChecks: "db:down:true:check failed",
		},
		{
			name: "draining",
			setup: func(c *health.Checker) {
				c.Add("db", ok)
				c.SetDraining()
			},
			wantCode:   503,
			wantStatus: "down",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := health.New()
			tc.setup(c)
			rec, w := serve(t, c.ReadyHandler(tc.opts...), http.MethodGet)
			if rec.Code != tc.wantCode {
				t.Errorf("GET /readyz status = %d; want %d", rec.Code, tc.wantCode)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", got)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", got)
			}
			if w.Status != tc.wantStatus {
				t.Errorf("body status = %q; want %q", w.Status, tc.wantStatus)
			}
			if w.Draining != (tc.name == "draining") {
				t.Errorf("body draining = %v; want %v", w.Draining, tc.name == "draining")
			}
			if !strings.Contains(rec.Body.String(), `"checks":[`) {
				t.Errorf("body %q has no checks array", rec.Body.String())
			}
			var got []string
			for _, c := range w.Checks {
				e := ""
				if c.Error != nil {
					e = *c.Error
				}
				if c.DurationMS == nil {
					t.Errorf("check %q has no duration_ms", c.Name)
				}
				got = append(got, strings.Join([]string{c.Name, c.Status, map[bool]string{true: "true", false: "false"}[c.Critical], e}, ":"))
			}
			if s := strings.Join(got, " "); s != tc.wantChecks {
				t.Errorf("checks = %q; want %q", s, tc.wantChecks)
			}
		})
	}
}

func TestReadyHandler_timeoutErrorText(t *testing.T) {
	t.Parallel()
	c := health.New()
	c.Add("slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, health.Timeout(time.Millisecond))
	rec, w := serve(t, c.ReadyHandler(health.ShowErrors()), http.MethodGet)
	if rec.Code != 503 || len(w.Checks) != 1 || w.Checks[0].Error == nil ||
		!strings.HasPrefix(*w.Checks[0].Error, "health: check timed out after 1ms") {
		t.Errorf("GET /readyz = %d %s; want 503 with a timeout error", rec.Code, rec.Body)
	}
}

func TestReadyHandler_duration(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Unix(0, 0))
	c := health.New(health.WithClock(clk.Now))
	c.Add("db", func(context.Context) error {
		clk.Advance(1500*time.Microsecond + 400) // rounds to 1.5ms
		return nil
	})
	_, w := serve(t, c.ReadyHandler(), http.MethodGet)
	if got := *w.Checks[0].DurationMS; got != 1.5 {
		t.Errorf("duration_ms = %v; want 1.5", got)
	}
}

func TestReadyHandler_clientGone(t *testing.T) {
	t.Parallel()
	c := health.New()
	c.Add("db", ok)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	c.ReadyHandler().ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"status":"unknown"`) {
		t.Errorf("GET /readyz with a cancelled request = %d %s; want 503 unknown", rec.Code, rec.Body)
	}
}

func TestHandlers_methods(t *testing.T) {
	t.Parallel()
	c := health.New()
	c.Add("db", ok)
	handlers := map[string]http.Handler{"live": c.LiveHandler(), "ready": c.ReadyHandler()}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
				rec, _ := serve(t, h, m)
				if rec.Code != http.StatusMethodNotAllowed {
					t.Errorf("%s %s = %d; want 405", m, name, rec.Code)
				}
				if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
					t.Errorf("%s %s Allow = %q; want GET, HEAD", m, name, got)
				}
				if got := rec.Header().Get("Content-Type"); got != "application/problem+json" {
					t.Errorf("%s %s Content-Type = %q; want application/problem+json", m, name, got)
				}
			}
			rec, _ := serve(t, h, http.MethodHead)
			if rec.Code != http.StatusOK {
				t.Errorf("HEAD %s = %d; want 200", name, rec.Code)
			}
		})
	}
}

func TestLiveHandler(t *testing.T) {
	t.Parallel()
	c := health.New()
	var calls int
	c.Add("db", func(context.Context) error { calls++; return errBoom })
	for _, draining := range []bool{false, true} {
		if draining {
			c.SetDraining()
		}
		rec, w := serve(t, c.LiveHandler(), http.MethodGet)
		if rec.Code != 200 || w.Status != "up" || rec.Body.String() != "{\"status\":\"up\"}\n" {
			t.Errorf("GET /livez (draining %v) = %d %q; want 200 {\"status\":\"up\"}", draining, rec.Code, rec.Body)
		}
	}
	if calls != 0 {
		t.Errorf("GET /livez ran %d checks; want 0", calls)
	}
}

// TestReadyHandler_hostilePanics checks that checks panicking with a
// self-referencing map, a 10 MB string or an error whose text is 10 MB
// neither crash the process nor make a large /readyz body, with or without
// ShowErrors, and that the default body has no error text at all.
func TestReadyHandler_hostilePanics(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 10<<20)
	c := health.New()
	c.Add("selfref", func(context.Context) error {
		m := map[string]any{}
		m["m"] = m
		panic(m)
	})
	c.Add("huge", func(context.Context) error { panic(huge) })
	c.Add("hugeerr", func(context.Context) error { return errors.New(huge) })
	c.Add("secret", func(context.Context) error { return errors.New("dial tcp 10.1.2.3:5432: connection refused") })
	for _, show := range []bool{false, true} {
		var opts []health.HandlerOption
		if show {
			opts = append(opts, health.ShowErrors())
		}
		rec, w := serve(t, c.ReadyHandler(opts...), http.MethodGet)
		if rec.Code != 503 || len(w.Checks) != 4 {
			t.Fatalf("show=%v: GET /readyz = %d with %d checks; want 503 with 4", show, rec.Code, len(w.Checks))
		}
		if n := rec.Body.Len(); n > 8<<10 {
			t.Errorf("show=%v: body is %d bytes; want at most 8 KiB", show, n)
		}
		if !show && (strings.Contains(rec.Body.String(), "10.1.2.3") || strings.Contains(rec.Body.String(), "xxx")) {
			t.Errorf("show=false: body %.300s shows error text", rec.Body)
		}
		if show && !strings.Contains(rec.Body.String(), "health: check panic: (map[string]interface {})") {
			t.Errorf("show=true: body %.300s; want the self-referencing map named by its type", rec.Body)
		}
	}
}

// TestNilOptions shows the nil rules: nil options are ignored and nil
// values given to options mean the default.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	c := health.New(nil, health.WithClock(nil), health.WithMeterProvider(nil), nil)
	c.Add("db", ok, nil, health.NonCritical(), nil)
	c.Add("api", fail, nil)
	rec, w := serve(t, c.ReadyHandler(nil, health.ShowErrors(), nil), http.MethodGet)
	if rec.Code != 503 || len(w.Checks) != 2 || w.Checks[0].Error == nil || *w.Checks[0].Error != "boom" || w.Checks[1].Critical {
		t.Errorf("GET /readyz = %d %s; want 503 with api down (boom) and db non-critical", rec.Code, rec.Body)
	}
	if d := *w.Checks[0].DurationMS; d < 0 {
		t.Errorf("duration_ms = %v with WithClock(nil); want time.Now durations", d)
	}
}
