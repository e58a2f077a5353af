package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/admin"
	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

const token = "0123456789abcdef0123"

var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

// fixedBuild keeps tests independent of how the test binary was built.
var fixedBuild = &debug.BuildInfo{GoVersion: "go1.26.0", Path: "example.com/svc", Main: debug.Module{Path: "example.com/svc", Version: "(devel)"}}

func newAdmin(t *testing.T, cfg admin.Config) (*admin.Admin, *fakeclock.Clock) {
	t.Helper()
	clk := fakeclock.New(t0)
	if cfg.Clock == nil {
		cfg.Clock = clk.Now
	}
	if cfg.Build == nil {
		cfg.Build = fixedBuild
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return admin.New(cfg), clk
}

// do serves one request on a; host defaults to 127.0.0.1:9091.
func do(a http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.Host = "127.0.0.1:9091"
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			r.Host = hdr[i+1]
			continue
		}
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	return w
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		v := recover()
		s, _ := v.(string)
		if !strings.HasPrefix(s, want) {
			t.Errorf("panic = %v; want prefix %q", v, want)
		}
	}()
	f()
}

func TestNewPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  admin.Config
		want string
	}{
		{"negative interval", admin.Config{Interval: -1}, "admin.New: cfg.Interval must not be negative"},
		{"negative history", admin.Config{History: -1}, "admin.New: cfg.History must be between"},
		{"huge history", admin.Config{History: 1 << 20}, "admin.New: cfg.History must be between"},
		{"negative series", admin.Config{MaxSeries: -1}, "admin.New: cfg.MaxSeries must not be negative"},
		{"negative timeout", admin.Config{ReportTimeout: -time.Second}, "admin.New: cfg.ReportTimeout must not be negative"},
		{"negative size", admin.Config{MaxReportSize: -1}, "admin.New: cfg.MaxReportSize must not be negative"},
		{"short token", admin.Config{Token: "secret"}, "admin.New: cfg.Token is 6 bytes, shorter than 16"},
		{"token with space", admin.Config{Token: "0123456789 abcdef"}, "admin.New: cfg.Token contains a space"},
		{"unencodable config", admin.Config{Config: make(chan int)}, "admin.New: cfg.Config cannot be shown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mustPanic(t, tc.want, func() { admin.New(tc.cfg) })
		})
	}
}

func TestAddPanics(t *testing.T) {
	t.Parallel()
	a, _ := newAdmin(t, admin.Config{})
	a.Add("cache", admin.ReporterFunc(func() any { return 1 }))
	var nilFunc admin.ReporterFunc
	tests := []struct {
		name, reporter string
		r              admin.Reporter
		want           string
	}{
		{"empty name", "", admin.ReporterFunc(func() any { return 1 }), "admin.Add: name is empty"},
		{"control character", "a\x00b", admin.ReporterFunc(func() any { return 1 }), `admin.Add: name "a\x00b" has a control character`},
		{"nil reporter", "x", nil, `admin.Add: reporter "x" is nil`},
		{"nil func", "y", nilFunc, `admin.Add: reporter "y" is a nil ReporterFunc`},
		{"duplicate", "cache", admin.ReporterFunc(func() any { return 2 }), `admin.Add: reporter "cache" is already added`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustPanic(t, tc.want, func() { a.Add(tc.reporter, tc.r) })
		})
	}
}

// TestNilOptions shows CONTRIBUTING rules 2 and 3 for a config struct: nil
// Clock, Logger, Checker, Metrics, LevelVar, Build and Config all mean
// their documented defaults, and nothing panics at run time.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	a := admin.New(admin.Config{})
	a.Add("r", admin.ReporterFunc(func() any { return map[string]int{"n": 1} }))
	if err := a.Sample(context.Background()); err != nil {
		t.Fatalf("Sample() = %v; want nil", err)
	}
	tests := []struct {
		path string
		want int
	}{
		{"/", http.StatusOK},
		{"/status.json", http.StatusOK},
		{"/buildinfo", http.StatusOK},
		{"/healthz", http.StatusNotFound},
		{"/metrics", http.StatusNotFound},
		{"/loglevel", http.StatusNotFound},
	}
	for _, tc := range tests {
		if w := do(a, "GET", tc.path, ""); w.Code != tc.want {
			t.Errorf("GET %s = %d; want %d", tc.path, w.Code, tc.want)
		}
	}
}

// routes lists every route with a method it answers.
var routes = []struct{ method, path string }{
	{"GET", "/"}, {"GET", "/status.json"}, {"GET", "/healthz"}, {"GET", "/metrics"},
	{"GET", "/debug/pprof/"}, {"GET", "/debug/pprof/cmdline"}, {"GET", "/debug/pprof/goroutine"},
	{"GET", "/loglevel"}, {"PUT", "/loglevel"}, {"GET", "/buildinfo"}, {"GET", "/nope"},
}

func fullConfig() admin.Config {
	checker := health.New()
	checker.Add("db", func(context.Context) error { return nil })
	return admin.Config{
		Checker:  checker,
		Metrics:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "up 1\n") }),
		LevelVar: new(slog.LevelVar),
	}
}

func TestTokenRequiredOnEveryRoute(t *testing.T) {
	t.Parallel()
	cfg := fullConfig()
	cfg.Token = token
	a, _ := newAdmin(t, cfg)
	for _, rt := range routes {
		for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Basic " + basic("admin", "wrong"), "Bearer " + token[:len(token)-1], token} {
			w := do(a, rt.method, rt.path, `{"level":"info"}`, "Authorization", auth, "Host", "admin.example.com")
			if w.Code != http.StatusUnauthorized {
				t.Errorf("%s %s with Authorization %q = %d; want 401", rt.method, rt.path, auth, w.Code)
			}
			if got := w.Header().Values("WWW-Authenticate"); len(got) != 2 {
				t.Errorf("%s %s: WWW-Authenticate = %q; want Bearer and Basic challenges", rt.method, rt.path, got)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("%s %s: Content-Type = %q; want application/problem+json", rt.method, rt.path, ct)
			}
		}
	}
}

func basic(user, pw string) string {
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pw)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestAuth(t *testing.T) {
	t.Parallel()
	withToken := fullConfig()
	withToken.Token = token
	tokenAdmin, _ := newAdmin(t, withToken)
	open := fullConfig()
	open.Hosts = []string{"Admin.Internal"}
	openAdmin, _ := newAdmin(t, open)
	tests := []struct {
		name       string
		a          *admin.Admin
		host, auth string
		want       int
	}{
		{"token: bearer", tokenAdmin, "admin.example.com", "Bearer " + token, 200},
		{"token: bearer scheme is case-insensitive", tokenAdmin, "admin.example.com", "bearer " + token, 200},
		{"token: basic with token as password", tokenAdmin, "10.0.0.1:9091", "Basic " + basic("ops", token), 200},
		{"token: basic with wrong password", tokenAdmin, "10.0.0.1:9091", "Basic " + basic(token, "x"), 401},
		{"token: none", tokenAdmin, "127.0.0.1", "", 401},
		{"open: loopback IPv4", openAdmin, "127.0.0.1:9091", "", 200},
		{"open: loopback IPv6", openAdmin, "[::1]:9091", "", 200},
		{"open: pod IP", openAdmin, "10.1.2.3:9091", "", 200},
		{"open: localhost", openAdmin, "localhost:9091", "", 200},
		{"open: listed host, any case", openAdmin, "admin.internal:9091", "", 200},
		{"open: rebinding name", openAdmin, "attacker.example:9091", "", 403},
		{"open: empty host", openAdmin, "", "", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := do(tc.a, "GET", "/status.json", "", "Host", tc.host, "Authorization", tc.auth)
			if w.Code != tc.want {
				t.Errorf("GET /status.json (Host %q, Authorization %q) = %d; want %d; body %s", tc.host, tc.auth, w.Code, tc.want, w.Body)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	a, _ := newAdmin(t, fullConfig())
	for _, rt := range routes {
		w := do(a, rt.method, rt.path, `{"level":"info"}`)
		h := w.Header()
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s %s: CSP %q lacks %q", rt.method, rt.path, csp, want)
			}
		}
		if strings.Contains(csp, "http") || strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
			t.Errorf("%s %s: CSP %q allows an external or unsafe source", rt.method, rt.path, csp)
		}
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s %s: %s = %q; want %q", rt.method, rt.path, k, got, want)
			}
		}
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	a, _ := newAdmin(t, fullConfig())
	tests := []struct {
		method, path string
		code         int
		ctype        string
		contains     string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "<section id=\"health\""},
		{"HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"GET", "/status.json", 200, "application/json", `"title":"example.com/svc"`},
		{"GET", "/healthz", 200, "application/json", `"name":"db"`},
		{"GET", "/metrics", 200, "", "up 1"},
		{"GET", "/debug/pprof/", 200, "text/html; charset=utf-8", "goroutine"},
		{"GET", "/debug/pprof/goroutine?debug=1", 200, "text/plain; charset=utf-8", "goroutine profile"},
		{"GET", "/debug/pprof/cmdline", 200, "text/plain; charset=utf-8", ""},
		{"GET", "/buildinfo", 200, "application/json", `"go_version":"go1.26.0"`},
		{"GET", "/loglevel", 200, "application/json", `{"level":"INFO"}`},
		{"GET", "/nope", 404, "application/problem+json", `"status":404`},
		{"POST", "/", 405, "application/problem+json", `"status":405`},
		{"DELETE", "/status.json", 405, "application/problem+json", `"status":405`},
		{"POST", "/loglevel", 405, "application/problem+json", `"status":405`},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			w := do(a, tc.method, tc.path, "")
			if w.Code != tc.code {
				t.Fatalf("%s %s = %d; want %d; body %s", tc.method, tc.path, w.Code, tc.code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); tc.ctype != "" && ct != tc.ctype {
				t.Errorf("%s %s Content-Type = %q; want %q", tc.method, tc.path, ct, tc.ctype)
			}
			if !strings.Contains(w.Body.String(), tc.contains) {
				t.Errorf("%s %s body lacks %q:\n%.2000s", tc.method, tc.path, tc.contains, w.Body)
			}
			if tc.code == 405 && w.Header().Get("Allow") == "" {
				t.Errorf("%s %s = 405 without an Allow header", tc.method, tc.path)
			}
		})
	}
}

func TestHealthzShowsErrors(t *testing.T) {
	t.Parallel()
	checker := health.New()
	checker.Add("postgres", func(context.Context) error { return errors.New("dial tcp 10.0.0.5:5432: connection refused") })
	a, _ := newAdmin(t, admin.Config{Checker: checker})
	w := do(a, "GET", "/healthz", "")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "connection refused") {
		t.Errorf("GET /healthz = %d %s; want 503 with the error text", w.Code, w.Body)
	}
	if page := do(a, "GET", "/", "").Body.String(); !strings.Contains(page, "connection refused") || !strings.Contains(page, `class="tag bad">down<`) {
		t.Errorf("page lacks the failing check and the down tag:\n%s", page)
	}
}

func TestLogLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		code       int
		want       string // level afterwards
	}{
		{"debug", `{"level":"debug"}`, 200, "DEBUG"},
		{"upper case", `{"level":"WARN"}`, 200, "WARN"},
		{"offset", `{"level":"info+2"}`, 200, "INFO+2"},
		{"unknown level", `{"level":"loud"}`, 400, "INFO"},
		{"empty level", `{"level":""}`, 400, "INFO"},
		{"missing level", `{}`, 400, "INFO"},
		{"number", `{"level":4}`, 400, "INFO"},
		{"unknown field", `{"level":"debug","sticky":true}`, 400, "INFO"},
		{"not JSON", `level=debug`, 400, "INFO"},
		{"empty body", ``, 400, "INFO"},
		{"trailing data", `{"level":"debug"} {"level":"error"}`, 400, "INFO"},
		{"too large", `{"level":"` + strings.Repeat("d", 2000) + `"}`, 413, "INFO"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lv := new(slog.LevelVar)
			a, _ := newAdmin(t, admin.Config{LevelVar: lv})
			w := do(a, "PUT", "/loglevel", tc.body, "Content-Type", "application/json")
			if w.Code != tc.code {
				t.Fatalf("PUT /loglevel %s = %d; want %d; body %s", tc.body, w.Code, tc.code, w.Body)
			}
			if got := lv.Level().String(); got != tc.want {
				t.Errorf("after PUT /loglevel %s level = %s; want %s", tc.body, got, tc.want)
			}
			if tc.code != 200 {
				if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("PUT /loglevel %s Content-Type = %q; want a problem", tc.body, ct)
				}
				return
			}
			if got := do(a, "GET", "/loglevel", "").Body.String(); got != `{"level":"`+tc.want+`"}`+"\n" {
				t.Errorf("GET /loglevel = %q; want level %s", got, tc.want)
			}
		})
	}
}

// counter is a reporter whose numbers change on every call.
type counter struct{ calls atomic.Int64 }

func (c *counter) Report() any {
	n := c.calls.Add(1)
	return struct {
		Limit    int     `json:"limit"`
		InFlight int64   `json:"in_flight"`
		Ratio    float64 `json:"error_ratio"`
		State    string  `json:"state"`
	}{100, n * 3, 0.25, "closed"}
}

func statusJSON(t *testing.T, a http.Handler) map[string]any {
	t.Helper()
	w := do(a, "GET", "/status.json", "")
	if w.Code != 200 {
		t.Fatalf("GET /status.json = %d %s", w.Code, w.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("GET /status.json: %v", err)
	}
	return m
}

func TestStatusJSONShape(t *testing.T) {
	t.Parallel()
	cfg := fullConfig()
	cfg.Config = slog.GroupValue(slog.String("PORT", "8080"), slog.String("DATABASE_URL", "postgres://u:xxxxx@db/app"))
	a, clk := newAdmin(t, cfg)
	a.Add("limiter", &counter{})
	for i := range 3 {
		if i > 0 {
			clk.Advance(5 * time.Second)
		}
		if err := a.Sample(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	m := statusJSON(t, a)
	for _, k := range []string{"title", "time", "started", "log_level", "interval_seconds", "health", "health_history", "runtime", "runtime_history", "reporters", "config", "build"} {
		if _, ok := m[k]; !ok {
			t.Errorf("status.json lacks %q: %v", k, m)
		}
	}
	if got := m["health"].(map[string]any)["status"]; got != "up" {
		t.Errorf("health.status = %v; want up", got)
	}
	if got := m["runtime"].(map[string]any)["goroutines"]; got == nil {
		t.Errorf("runtime.goroutines missing: %v", m["runtime"])
	}
	if got := m["runtime_history"].(map[string]any)["goroutines"]; len(got.([]any)) != 3 {
		t.Errorf("runtime_history.goroutines = %v; want 3 samples", got)
	}
	if got := m["health_history"].(map[string]any)["checks[db].duration_ms"]; len(got.([]any)) != 3 {
		t.Errorf("health_history[checks[db].duration_ms] = %v; want 3 samples", got)
	}
	// Config keeps its order and values.
	w := do(a, "GET", "/status.json", "")
	if !strings.Contains(w.Body.String(), `"config":{"PORT":"8080","DATABASE_URL":"postgres://u:xxxxx@db/app"}`) {
		t.Errorf("config not shown in order: %s", w.Body)
	}
	rs := m["reporters"].([]any)
	if len(rs) != 1 {
		t.Fatalf("reporters = %v; want one", rs)
	}
	r := rs[0].(map[string]any)
	if r["name"] != "limiter" || r["report"].(map[string]any)["in_flight"] != 9.0 {
		t.Errorf("reporter = %v; want limiter with in_flight 9 (third call)", r)
	}
	hist := r["history"].(map[string]any)
	if got := hist["in_flight"]; !equalJSON(got, []any{3.0, 6.0, 9.0}) {
		t.Errorf("history.in_flight = %v; want [3 6 9]", got)
	}
	if _, ok := hist["state"]; ok {
		t.Errorf("history has a series for a string leaf: %v", hist)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// panicky is a reporter that panics, directly or while being encoded.
type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("encoder exploded") }

func TestReporterFailuresAreIsolated(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	a, _ := newAdmin(t, admin.Config{MaxReportSize: 4 << 10, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	a.Add("good", &counter{})
	a.Add("panics", admin.ReporterFunc(func() any { panic(errors.New("nil map in reporter")) }))
	a.Add("marshal panics", admin.ReporterFunc(func() any { return panicky{} }))
	a.Add("huge", admin.ReporterFunc(func() any { return make([]int, 10000) }))
	a.Add("unencodable", admin.ReporterFunc(func() any { return map[string]any{"f": func() {}} }))
	a.Add("nil", admin.ReporterFunc(func() any { return nil }))
	if err := a.Sample(t.Context()); err != nil {
		t.Fatal(err)
	}
	w := do(a, "GET", "/", "")
	page := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("GET / = %d; want 200", w.Code)
	}
	for _, want := range []string{
		"report panicked: nil map in reporter",
		"report panicked: encoder exploded",
		"over the limit of 4096",
		"report cannot be shown: json: unsupported type: func()",
		`<span class="str good">closed</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if len(page) > 64<<10 {
		t.Errorf("page is %d bytes with a huge reporter; want it bounded", len(page))
	}
	if !strings.Contains(logs.String(), "admin: reporter panicked") {
		t.Errorf("log lacks the panic: %s", logs.String())
	}
	errs := map[string]bool{}
	for _, r := range statusJSON(t, a)["reporters"].([]any) {
		r := r.(map[string]any)
		errs[r["name"].(string)] = r["error"] != nil
	}
	want := map[string]bool{"good": false, "panics": true, "marshal panics": true, "huge": true, "unencodable": true, "nil": false}
	for k, v := range want {
		if errs[k] != v {
			t.Errorf("reporter %q has error = %v; want %v", k, errs[k], v)
		}
	}
}

func TestReporterTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var calls atomic.Int64
	a, _ := newAdmin(t, admin.Config{ReportTimeout: 10 * time.Millisecond})
	a.Add("stuck", admin.ReporterFunc(func() any {
		calls.Add(1)
		<-release
		return map[string]int{"ok": 1}
	}))
	a.Add("fine", admin.ReporterFunc(func() any { return map[string]int{"fine": 1} }))
	sections := func() map[string]string {
		out := map[string]string{}
		for _, r := range statusJSON(t, a)["reporters"].([]any) {
			r := r.(map[string]any)
			e, _ := r["error"].(string)
			out[r["name"].(string)] = e
		}
		return out
	}
	_ = a.Sample(t.Context()) // the first call times out and keeps running
	if got := sections(); !strings.Contains(got["stuck"], "no report within 10ms") || got["fine"] != "" {
		t.Errorf("after a hung report: %v; want stuck timed out, fine without error", got)
	}
	_ = a.Sample(t.Context())
	if got := sections(); !strings.Contains(got["stuck"], "has not returned yet") {
		t.Errorf("second collection: %v; want stuck not called again", got)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("hung reporter called %d times; want 1", n)
	}
	close(release)
	// The hung call returns now; wait for its goroutine to clear its busy
	// flag by collecting until it is called again (bounded by the test timeout).
	for calls.Load() < 2 {
		_ = a.Sample(t.Context())
	}
}

func TestPageReusesRecentCollection(t *testing.T) {
	t.Parallel()
	c := &counter{}
	a, clk := newAdmin(t, admin.Config{})
	a.Add("c", c)
	do(a, "GET", "/", "")
	do(a, "GET", "/status.json", "")
	clk.Advance(999 * time.Millisecond)
	do(a, "GET", "/", "")
	if n := c.calls.Load(); n != 1 {
		t.Errorf("three requests within a second called the reporter %d times; want 1", n)
	}
	clk.Advance(time.Millisecond)
	do(a, "GET", "/", "")
	if n := c.calls.Load(); n != 2 {
		t.Errorf("a request a second later: reporter called %d times; want 2", n)
	}
}

func TestPageEscapesReporterText(t *testing.T) {
	t.Parallel()
	a, _ := newAdmin(t, admin.Config{Title: `<b>svc</b>`})
	a.Add(`<img src=x onerror=alert(1)>`, admin.ReporterFunc(func() any {
		return map[string]string{`"><script>alert(1)</script>`: `<script>alert(2)</script>`}
	}))
	page := do(a, "GET", "/", "").Body.String()
	for _, bad := range []string{"<script>", "<img", "<b>svc"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(2)&lt;/script&gt;") {
		t.Errorf("page lacks the escaped reporter text")
	}
}

func TestSparklines(t *testing.T) {
	t.Parallel()
	a, clk := newAdmin(t, admin.Config{})
	a.Add("limiter", &counter{})
	_ = a.Sample(t.Context())
	if page := do(a, "GET", "/", "").Body.String(); strings.Contains(page, `<svg class="spark"`) {
		t.Errorf("page has a sparkline after one sample; want none until two")
	}
	clk.Advance(5 * time.Second)
	_ = a.Sample(t.Context())
	page := do(a, "GET", "/", "").Body.String()
	if !strings.Contains(page, `<svg class="spark"`) || !strings.Contains(page, "min 3, max 6 over 2 samples") {
		t.Errorf("page lacks the in_flight sparkline:\n%s", page)
	}
}

func TestHistoryBounded(t *testing.T) {
	t.Parallel()
	a, clk := newAdmin(t, admin.Config{History: 4, MaxSeries: 3})
	var n atomic.Int64
	a.Add("wide", admin.ReporterFunc(func() any {
		i := n.Add(1)
		m := map[string]int64{}
		for k := range 10 { // ten leaves, new names every call
			m[string(rune('a'+k))+"_"+string(rune('0'+i%10))] = i
		}
		return m
	}))
	for range 25 {
		_ = a.Sample(t.Context())
		clk.Advance(5 * time.Second)
	}
	r := statusJSON(t, a)["reporters"].([]any)[0].(map[string]any)
	hist := r["history"].(map[string]any)
	if len(hist) == 0 || len(hist) > 3 {
		t.Errorf("history holds %d series; want 1 to 3 (MaxSeries)", len(hist))
	}
	for p, v := range hist {
		if got := len(v.([]any)); got != 4 {
			t.Errorf("series %s has %d samples; want 4 (History)", p, got)
		}
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	called := make(chan struct{}, 10)
	a, _ := newAdmin(t, admin.Config{Interval: time.Millisecond})
	a.Add("r", admin.ReporterFunc(func() any {
		select {
		case called <- struct{}{}:
		default:
		}
		return 1
	}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	<-called // sampled at once
	<-called // and on a tick
	if err := a.Run(ctx); err == nil {
		t.Errorf("a second concurrent Run() = nil; want an error")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v after cancel; want nil", err)
	}
	if err := a.Sample(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sample(cancelled ctx) = %v; want context.Canceled", err)
	}
}

func TestBuildInfo(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.0", Path: "example.com/svc",
		Main:     debug.Module{Path: "example.com/svc", Version: "v1.2.3"},
		Deps:     []*debug.Module{{Path: "github.com/chassis-go/chassis", Version: "v0.9.0", Sum: "h1:x"}},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "GOARCH", Value: "amd64"}},
	}
	a, _ := newAdmin(t, admin.Config{Build: bi})
	got := do(a, "GET", "/buildinfo", "").Body.String()
	want := `{"go_version":"go1.26.0","path":"example.com/svc","main":{"path":"example.com/svc","version":"v1.2.3"},"settings":{"vcs.revision":"abc123","GOARCH":"amd64"},"deps":[{"path":"github.com/chassis-go/chassis","version":"v0.9.0","sum":"h1:x"}]}` + "\n"
	if got != want {
		t.Errorf("GET /buildinfo = %s; want %s", got, want)
	}
	if page := do(a, "GET", "/", "").Body.String(); !strings.Contains(page, "abc123") || !strings.Contains(page, "<title>example.com/svc · admin</title>") {
		t.Errorf("page lacks the revision or the default title")
	}
}
