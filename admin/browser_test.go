package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chassis-go/chassis/admin"
	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/internal/fakeclock"
)

// chromiumPath is Debian's chromium launcher; .ci/run installs it.
const chromiumPath = "/usr/bin/chromium"

// chromium runs headless chromium with args and returns its stdout. The
// browser runs in its own process group, killed when the command returns
// or its time is up, so no renderer outlives the test.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--no-first-run", "--disable-sync", "--disable-crash-reporter",
		"--disable-breakpad", "--hide-scrollbars", "--force-device-scale-factor=1",
		"--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, chromiumPath, append(base, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Dir = t.TempDir()
	err := cmd.Start()
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	err = cmd.Wait()
	// Whatever happened, nothing of this browser may keep running.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err != nil {
		t.Fatalf("chromium %s: %v (context: %v)\nstderr:\n%s", strings.Join(args, " "), err, ctx.Err(), tail(stderr.String(), 3000))
	}
	return stdout.Bytes()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %s is missing (%v): .ci/run installs Debian's chromium package", chromiumPath, err)
		}
		t.Skipf("%s is missing (apt-get install -y chromium); CI=true makes this a failure", chromiumPath)
	}
}

// fakeService reports like the parts of a real service would, with
// numbers that move with the clock.
type fakeService struct {
	clk   *fakeclock.Clock
	start time.Time
}

func (f *fakeService) t() float64 { return f.clk.Now().Sub(f.start).Seconds() }

// wave is a smooth, deterministic signal of period p seconds.
func (f *fakeService) wave(base, amp, p float64) float64 {
	return base + amp*math.Sin(2*math.Pi*f.t()/p)
}

func (f *fakeService) inFlight() int { return int(f.wave(40, 25, 300)) }

func (f *fakeService) overload() any {
	return map[string]any{
		"limit":     int(f.wave(64, 16, 420)),
		"in_flight": f.inFlight(),
		"queued":    max(0, int(f.wave(2, 6, 180))),
		"rejected":  map[string]int{"critical": 0, "default": int(f.t() / 40), "sheddable": int(f.t() / 9)},
	}
}

func (f *fakeService) client() any {
	type host struct {
		Host         string  `json:"host"`
		Breaker      string  `json:"breaker"`
		FailureRatio float64 `json:"failure_ratio"`
		Retries      int     `json:"retries"`
		Hedges       int     `json:"hedges"`
	}
	return map[string]any{
		"budget_left": math.Round(f.wave(0.8, 0.15, 240)*100) / 100,
		"hosts": []host{
			{"payments.internal:443", "closed", math.Round(f.wave(0.02, 0.02, 200)*1000) / 1000, int(f.t() / 7), int(f.t() / 30)},
			{"ledger.internal:443", "half-open", math.Round(f.wave(0.3, 0.2, 150)*1000) / 1000, int(f.t() / 3), 0},
			{"fx.example.com:443", "open", 1, int(f.t() / 2), 0},
		},
	}
}

func (f *fakeService) limiter() any {
	return map[string]any{
		"tracked_keys": int(f.wave(1800, 600, 500)),
		"max_keys":     10000,
		"degraded":     false,
		"top_limited": []map[string]any{
			{"key": "2001:db8:1::/64", "denied": int(f.t() * 3)},
			{"key": "203.0.113.7", "denied": int(f.t())},
			{"key": "<script>alert(1)</script>", "denied": 3},
		},
	}
}

func (f *fakeService) cache() any {
	hits := int(f.t() * 50)
	misses := int(f.t() * 4)
	return map[string]any{"entries": int(f.wave(7000, 900, 600)), "max_entries": 10000, "hits": hits, "misses": misses, "hit_ratio": math.Round(float64(hits)/float64(max(1, hits+misses))*1000) / 1000}
}

func (f *fakeService) jobs() any {
	return []map[string]any{
		{"name": "compact-notes", "runs": int(f.t() / 60), "failures": 0, "last_run": f.clk.Now().Add(-20 * time.Second).Format(time.RFC3339), "state": "ok"},
		{"name": "refresh-rates", "runs": int(f.t() / 15), "failures": int(f.t() / 200), "last_run": f.clk.Now().Add(-3 * time.Second).Format(time.RFC3339), "state": "ok"},
	}
}

// TestBrowser renders the page in headless chromium, checks the sections
// and the live numbers in the DOM, and saves screenshots: to
// $CHASSIS_ARTIFACTS when set, and to docs/admin.png when
// CHASSIS_UPDATE_SCREENSHOT=1.
func TestBrowser(t *testing.T) {
	needChromium(t)
	clk := fakeclock.New(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	f := &fakeService{clk: clk, start: clk.Now()}
	checker := health.New(health.WithClock(clk.Now))
	checker.Add("postgres", func(context.Context) error { return nil })
	checker.Add("redis", func(context.Context) error { return nil })
	checker.Add("rates-api", func(context.Context) error {
		return errors.New("GET https://fx.example.com/health: 503 Service Unavailable")
	}, health.NonCritical())
	lv := new(slog.LevelVar)
	a := admin.New(admin.Config{
		Title:    "notes-service",
		Checker:  checker,
		LevelVar: lv,
		Clock:    clk.Now,
		Logger:   slog.New(slog.DiscardHandler),
		Config: slog.GroupValue(
			slog.String("ADDR", ":8080"), slog.String("ADMIN_ADDR", "127.0.0.1:9091"),
			slog.String("DATABASE_URL", "postgres://notes:xxxxx@db:5432/notes"), slog.String("REDIS_URL", "redis://redis:6379/0"),
			slog.String("ADMIN_TOKEN", "[REDACTED]"), slog.String("LOG_FORMAT", "json"),
		),
	})
	a.Add("overload limiter", admin.ReporterFunc(f.overload))
	a.Add("payments client", admin.ReporterFunc(f.client))
	a.Add("rate limiter", admin.ReporterFunc(f.limiter))
	a.Add("notes cache", admin.ReporterFunc(f.cache))
	a.Add("jobs", admin.ReporterFunc(f.jobs))
	// Ten minutes of samples, as Run would take them.
	for i := range 120 {
		if i > 0 {
			clk.Advance(5 * time.Second)
		}
		if err := a.Sample(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(a)
	defer srv.Close()

	dom := string(chromium(t, "--dump-dom", srv.URL+"/"))
	for _, want := range []string{
		`<section id="health"`, `>overload limiter</h2>`, `>payments client</h2>`, `>rate limiter</h2>`,
		`>notes cache</h2>`, `>jobs</h2>`, `<section id="runtime">`, `<section id="build">`, `<section id="config"`,
		"payments.internal:443", "2001:db8:1::/64", "503 Service Unavailable", "postgres://notes:xxxxx@db:5432/notes",
		`<b id="loglevel">INFO</b>`,
		fmt.Sprintf(`<span class="num">%d</span>`, f.inFlight()), // the live number after the last sample
		"&lt;script&gt;alert(1)&lt;/script&gt;",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	if strings.Contains(dom, "<script") {
		t.Errorf("rendered DOM has a script element; reporter text must be escaped")
	}
	if n := len(regexp.MustCompile(`<svg class="spark"`).FindAllString(dom, -1)); n < 20 {
		t.Errorf("rendered DOM has %d sparklines; want one per numeric leaf (at least 20)", n)
	}

	shots := []struct {
		name          string
		width, height int
		docs          bool
	}{
		{"admin.png", 1280, 900, true},
		{"admin-phone.png", 390, 844, false},
	}
	for _, s := range shots {
		file := filepath.Join(t.TempDir(), s.name)
		chromium(t, "--screenshot="+file, fmt.Sprintf("--window-size=%d,%d", s.width, s.height), srv.URL+"/")
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("screenshot %s: %v", s.name, err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("screenshot %s is not a PNG: %v", s.name, err)
		}
		if got := img.Bounds().Size(); got.X != s.width || got.Y != s.height {
			t.Errorf("screenshot %s is %v; want %dx%d", s.name, got, s.width, s.height)
		}
		if dir := os.Getenv("CHASSIS_ARTIFACTS"); dir != "" {
			writeFile(t, filepath.Join(dir, s.name), b)
		}
		if s.docs && os.Getenv("CHASSIS_UPDATE_SCREENSHOT") == "1" {
			writeFile(t, filepath.Join("..", "docs", s.name), b)
		}
	}
}

// TestBrowserWithToken opens a token-protected page the way an operator
// would: with the token as the Basic password in the URL.
func TestBrowserWithToken(t *testing.T) {
	needChromium(t)
	srv := httptest.NewServer(admin.New(admin.Config{Token: token, Title: "protected", Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	// Headless chromium answers the Basic challenge by giving up: no page.
	if dom := string(chromium(t, "--dump-dom", srv.URL+"/")); strings.Contains(dom, "<h1>protected</h1>") {
		t.Errorf("without the token the browser got the page:\n%.500s", dom)
	}
	withToken := strings.Replace(srv.URL, "http://", "http://ops:"+token+"@", 1)
	if dom := string(chromium(t, "--dump-dom", withToken+"/")); !strings.Contains(dom, "<h1>protected</h1>") {
		t.Errorf("with the token as Basic password the browser got:\n%.500s\nwant the page", dom)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
