// Command e2e checks the chassis monitoring pack against a real Prometheus:
// it builds and starts the reference service (examples/service) twice, drives
// traffic that makes it record every metric it can, starts Prometheus with
// the pack's rules scraping both instances every second, and then asserts
// that
//
//   - every metric of docs/metrics.md the reference service can emit has data
//     (the ones it cannot are in the allowlist below, each with its reason),
//   - every query of every panel of monitoring/grafana/chassis.json returns
//     data (queries over allowlisted metrics are skipped),
//   - every metric the rules and the dashboard name exists (in docs/metrics.md,
//     on /metrics, or in the allowlist), so a typo cannot hide,
//   - every recording and alerting rule loaded and evaluates without error.
//
// A metric renamed in code fails the first or second check. Everything runs
// on loopback; every process started is killed on exit. Run it from this
// directory (go run .) or through monitoring/check.sh; -h lists the flags.
// With -write-dashboard it writes the generated dashboard instead.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// notEmitted lists the metrics of the inventory (and of the dashboard and
// rules) that the reference service cannot emit, with the reason. The check
// skips them, and says so when one shows up after all (then remove it here).
var notEmitted = map[string]string{
	"chassis_timeout_overruns_total":                   "needs a handler that ignores cancellation; the service's handlers honour it",
	"chassis_call_hedges_total":                        "the service's call.Client does not hedge",
	"rpc_client_call_duration_seconds":                 "the service has no gRPC client",
	"chassis_grpc_client_retries_total":                "the service has no gRPC client",
	"chassis_grpc_client_hedges_total":                 "the service has no gRPC client",
	"chassis_grpc_client_retry_budget_exhausted_total": "the service has no gRPC client",
	"chassis_grpc_client_breaker_transitions_total":    "the service has no gRPC client",
	"chassis_grpc_client_breaker_rejections_total":     "the service has no gRPC client",
	// Packages the reference service does not wire (yet).
}

// needRedis lists the metrics only instances on a reachable Redis emit: they
// join notEmitted when the check runs without one.
var needRedis = []string{
	"chassis_redislimit_deny_cache_hits_total",
	"chassis_rediscache_lookups_total",
	"chassis_rediscache_invalidations_sent_total",
	"chassis_rediscache_invalidations_received_total",
	"chassis_rediscache_resyncs_total",
}

func main() {
	var cfg config
	flag.StringVar(&cfg.root, "root", "../..", "the chassis repository")
	flag.StringVar(&cfg.prometheus, "prometheus", "prometheus", "the Prometheus server binary")
	flag.StringVar(&cfg.serviceBin, "service-bin", "", "a built reference service (default: go build it)")
	flag.StringVar(&cfg.redis, "redis", os.Getenv("CHASSIS_REDIS_ADDR"), "a Redis host:port for a third instance C (rate limit in Redis, deny cache); empty: no C")
	flag.StringVar(&cfg.metricsPath, "metrics-path", "/metrics", "path of the metrics on the scraped listener")
	flag.DurationVar(&cfg.buildTimeout, "build-timeout", 4*time.Minute, "bound of the build of the reference service")
	flag.DurationVar(&cfg.timeout, "timeout", 90*time.Second, "bound of the check once the service is built")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (logs, Prometheus data)")
	write := flag.String("write-dashboard", "", "write the generated Grafana dashboard to this file and exit")
	flag.Parse()
	if *write != "" {
		if err := writeDashboard(*write); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	start := time.Now()
	err := run(ctx, &cfg)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL after %s: %v\n", time.Since(start).Round(100*time.Millisecond), err)
		os.Exit(1)
	}
	fmt.Printf("e2e: ok in %s\n", time.Since(start).Round(100*time.Millisecond))
}

type config struct {
	root, prometheus, serviceBin, metricsPath, redis string
	timeout, buildTimeout                            time.Duration
	keep                                             bool
}

// adminToken is given to the services (ADMIN_TOKEN) and to Prometheus, in
// case the admin listener that serves /metrics asks for one.
var adminToken = func() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// procs are the processes started, killed on the way out.
type procs struct {
	mu   sync.Mutex
	list []*exec.Cmd
	logs []string
}

func (p *procs) start(cmd *exec.Cmd, log string) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	p.mu.Lock()
	p.list = append(p.list, cmd)
	p.logs = append(p.logs, log)
	p.mu.Unlock()
	return nil
}

func (p *procs) killAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.list {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL) // its process group only
		_ = c.Wait()
	}
}

// dumpLogs prints the tail of every log, for a failed run.
func (p *procs) dumpLogs() {
	for _, l := range p.logs {
		b, _ := os.ReadFile(l)
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		fmt.Fprintf(os.Stderr, "---- tail of %s\n%s\n", l, b)
	}
}

func run(ctx context.Context, cfg *config) (err error) {
	root, err := filepath.Abs(cfg.root)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "chassis-monitoring-e2e-")
	if err != nil {
		return err
	}
	var ps procs
	defer func() {
		ps.killAll()
		if err != nil {
			ps.dumpLogs()
		}
		if cfg.keep {
			fmt.Println("e2e: kept", tmp)
		} else {
			_ = os.RemoveAll(tmp)
		}
	}()

	bin := cfg.serviceBin
	if bin == "" {
		bin = filepath.Join(tmp, "service")
		step("build the reference service")
		bctx, cancel := context.WithTimeout(ctx, cfg.buildTimeout)
		build := exec.CommandContext(bctx, "go", "build", "-o", bin, "./examples/service")
		build.Dir = root
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		err := build.Run()
		cancel()
		if err != nil {
			return fmt.Errorf("go build ./examples/service: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	checkStart := time.Now()
	defer func() { fmt.Printf("e2e: %s after the build\n", time.Since(checkStart).Round(100*time.Millisecond)) }()

	// The downstream of instance B: first busy (429 with Retry-After, which
	// call retries but its breaker counts as a success) so that retries spend
	// the budget, then down (503) so that the breaker opens.
	var down atomic.Bool
	stubLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	stub := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = stub.Serve(stubLis) }()
	defer stub.Close()

	// A port with nothing behind it: Redis for instance B, down.
	deadRedis, err := freePort()
	if err != nil {
		return err
	}

	// Flag files: a good one for A, a broken one for B (rejected, counted).
	goodFlags, badFlags := filepath.Join(tmp, "flags-good.json"), filepath.Join(tmp, "flags-bad.json")
	if err := os.WriteFile(goodFlags, []byte(`{"flags": {"digest": {"variants": {"on": true, "off": false}, "default": "on"}}}`), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(badFlags, []byte(`{"flags": {"digest": `), 0o644); err != nil {
		return err
	}

	step("start the reference service: A (memory limiter), B (Redis down, failing downstream)")
	common := []string{"PURGE_INTERVAL=1s", "ADMIN_TOKEN=" + adminToken, "HTTP_ADDR=127.0.0.1:0", "GRPC_ADDR=127.0.0.1:0", "ADMIN_ADDR=127.0.0.1:0",
		"DEBUG_ENDPOINTS=true", "DOWNSTREAM_TOKEN=e2e-downstream-token", "LOG_LEVEL=info",
		"REQUEST_TIMEOUT=300ms", "MAX_BODY_BYTES=1024", "DRAIN_DELAY=0s", "SHUTDOWN_TIMEOUT=1s",
		"OTEL_METRICS_EXPORTER=prometheus", "OTEL_TRACES_EXPORTER=none", "OTEL_LOGS_EXPORTER=none"}
	a, err := startService(ctx, &ps, bin, filepath.Join(tmp, "service-a.log"), append(common, "RATE_LIMIT=40", "RATE_LIMIT_PER=1m", "FLAGS_FILE="+goodFlags))
	if err != nil {
		return fmt.Errorf("instance A: %w", err)
	}
	b, err := startService(ctx, &ps, bin, filepath.Join(tmp, "service-b.log"), append(common,
		"RATE_LIMIT=100000", "RATE_LIMIT_PER=1m", "REDIS_ADDR="+deadRedis, "FAN_OUT=16", "FLAGS_FILE="+badFlags,
		"DOWNSTREAM_URL=http://"+stubLis.Addr().String()+"/analyze", "DOWNSTREAM_TIMEOUT=1s",
		// Without the client's adaptive limit, B's failing downstream sees
		// every retry, so the retry budget runs out as its alert expects.
		"DOWNSTREAM_ADAPTIVE_LIMIT=false"))
	if err != nil {
		return fmt.Errorf("instance B: %w", err)
	}
	fmt.Printf("   A: http %s grpc %s scrape %s\n   B: http %s grpc %s scrape %s\n", a.http, a.grpc, a.scrape, b.http, b.grpc, b.scrape)
	targets := []string{a.scrape, b.scrape}

	// C and D: two replicas on a real Redis, when there is one, for the
	// paths that need it (the rate limiter's deny cache, the shared cache
	// tier and its invalidations between replicas). The limit's period is
	// short so that its keys are gone from Redis seconds after the check.
	var c *instance
	redisOK := false
	if cfg.redis != "" {
		if conn, err := net.DialTimeout("tcp", cfg.redis, time.Second); err != nil {
			fmt.Printf("   no instances C and D: Redis at %s: %v\n", cfg.redis, err)
		} else {
			conn.Close()
			redisOK = true
		}
	}
	if redisOK {
		env := append(common, "RATE_LIMIT=10", "RATE_LIMIT_PER=2s", "REDIS_ADDR="+cfg.redis)
		if c, err = startService(ctx, &ps, bin, filepath.Join(tmp, "service-c.log"), env); err != nil {
			return fmt.Errorf("instance C: %w", err)
		}
		d, err := startService(ctx, &ps, bin, filepath.Join(tmp, "service-d.log"), env)
		if err != nil {
			return fmt.Errorf("instance D: %w", err)
		}
		targets = append(targets, c.scrape, d.scrape)
		fmt.Printf("   C: http %s scrape %s, D: http %s scrape %s (Redis %s)\n", c.http, c.scrape, d.http, d.scrape, cfg.redis)
	} else {
		for _, m := range needRedis {
			notEmitted[m] = "needs a reachable Redis: set CHASSIS_REDIS_ADDR (or -redis) and the check runs two more instances on it"
		}
	}

	step("start Prometheus")
	prom, err := startPrometheus(ctx, &ps, cfg, root, tmp, targets)
	if err != nil {
		return err
	}
	fmt.Println("   Prometheus at", prom)

	step("wait for the first scrape, then drive traffic")
	if err := waitScrapes(ctx, prom, len(targets), 0); err != nil {
		return err
	}
	if err := traffic(ctx, a, b, c, &down); err != nil {
		return err
	}
	// Until the end, keep the faults of B visible (and A's 429s), so that
	// every rate the alerts read grows over several scrapes.
	bgCtx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	go background(bgCtx, a, b)

	step("wait for scrapes and rule evaluations")
	if err := waitScrapes(ctx, prom, len(targets), 3); err != nil {
		return err
	}

	var failures []string
	fail := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }

	step("rules: loaded and evaluating without error")
	if err := checkRules(ctx, prom, fail); err != nil {
		return err
	}

	step("metrics of docs/metrics.md")
	inventory, err := parseInventory(filepath.Join(root, "docs", "metrics.md"))
	if err != nil {
		return err
	}
	scraped, err := labelValues(ctx, prom, "__name__")
	if err != nil {
		return err
	}
	for _, m := range inventory {
		if reason, ok := notEmitted[m.name]; ok {
			if hasMetric(scraped, m.name) {
				fmt.Printf("   note: %s is allowlisted (%s) but has data: remove it from notEmitted\n", m.name, reason)
			} else {
				fmt.Printf("   skip %s: %s\n", m.name, reason)
			}
			continue
		}
		q := m.name
		if m.histogram {
			q += "_count"
		}
		n, err := queryData(ctx, prom, q)
		switch {
		case err != nil:
			fail("metric %s: %v", q, err)
		case n == 0:
			fail("metric %s (docs/metrics.md line %d) has no data in Prometheus: renamed in code, or no longer recorded by the reference service?", q, m.line)
		default:
			fmt.Printf("   ok   %s (%d series)\n", q, n)
		}
	}

	documented := map[string]bool{}
	for _, m := range inventory {
		documented[m.name] = true
	}
	for _, s := range scraped {
		if n := baseName(s); strings.HasPrefix(n, "chassis_") && !documented[n] {
			fmt.Printf("   note: %s is on /metrics but not in docs/metrics.md\n", s)
		}
	}

	step("dashboard queries of monitoring/grafana/chassis.json")
	exprs, err := dashboardExprs(filepath.Join(root, "monitoring", "grafana", "chassis.json"))
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, m := range inventory {
		known[m.name] = true
	}
	for _, s := range scraped {
		known[baseName(s)] = true
	}
	for m := range notEmitted {
		known[m] = true
	}
	for _, e := range exprs {
		for _, m := range metricNames(e.expr) {
			if !known[m] {
				fail("dashboard panel %q names %s, which is neither in docs/metrics.md, nor on /metrics, nor allowlisted", e.panel, m)
			}
		}
		if m := allowlisted(e.expr); m != "" {
			fmt.Printf("   skip %q: %s (%s)\n", e.panel, m, notEmitted[m])
			continue
		}
		q := substitute(e.expr)
		n, err := queryData(ctx, prom, q)
		switch {
		case err != nil:
			fail("dashboard panel %q: %s: %v", e.panel, q, err)
		case n == 0:
			fail("dashboard panel %q returns no data: %s", e.panel, q)
		default:
			fmt.Printf("   ok   %q (%d series)\n", e.panel, n)
		}
	}

	step("alerts: the faults of instance B make theirs pending or firing")
	if err := checkAlerts(ctx, prom, fail); err != nil {
		return err
	}

	step("metric names in the rules")
	rules, err := ruleQueries(ctx, prom)
	if err != nil {
		return err
	}
	for _, r := range rules {
		for _, m := range metricNames(r.query) {
			if !known[m] {
				fail("rule %s names %s, which is neither in docs/metrics.md, nor on /metrics, nor allowlisted", r.name, m)
			}
		}
	}
	fmt.Printf("   %d rules checked\n", len(rules))

	if len(failures) > 0 {
		targetHealth(ctx, prom)
		return fmt.Errorf("%d problems:\n  %s", len(failures), strings.Join(failures, "\n  "))
	}
	return nil
}

func step(s string) { fmt.Printf("== %s (%s)\n", s, time.Now().Format("15:04:05")) }

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// instance is a started reference service.
type instance struct {
	http, grpc, admin string
	scrape            string // host:port Prometheus scrapes: admin if the service has one, else http
}

// startService starts the reference service and waits for its "listening"
// log line, which gives its addresses.
func startService(ctx context.Context, ps *procs, bin, logPath string, env []string) (*instance, error) {
	cmd := exec.Command(bin)
	cmd.Env = append(cleanEnv(), env...)
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = log
	if err := ps.start(cmd, logPath); err != nil {
		return nil, err
	}
	found := make(chan *instance, 1)
	go func() {
		defer log.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = log.Write(append(line, '\n'))
			if sent {
				continue
			}
			var rec struct{ Msg, HTTP, GRPC, Admin string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" && rec.HTTP != "" {
				in := &instance{http: rec.HTTP, grpc: rec.GRPC, admin: rec.Admin, scrape: rec.HTTP}
				if rec.Admin != "" {
					in.scrape = rec.Admin
				}
				found <- in
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case in, ok := <-found:
		if !ok {
			return nil, fmt.Errorf("exited before logging \"listening\" (log: %s)", logPath)
		}
		return in, nil
	case <-time.After(20 * time.Second):
		return nil, fmt.Errorf("no \"listening\" log line within 20s (log: %s)", logPath)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// cleanEnv is this process's environment without what would point the
// service at real databases, Redis or collectors.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "OTEL_") || strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "REDIS_") ||
			k == "DATABASE_URL" || k == "DOWNSTREAM_URL" || k == "HTTP_ADDR" || k == "GRPC_ADDR" || k == "ADMIN_ADDR" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func startPrometheus(ctx context.Context, ps *procs, cfg *config, root, tmp string, targets []string) (string, error) {
	rules, err := filepath.Glob(filepath.Join(root, "monitoring", "prometheus", "*.yml"))
	if err != nil || len(rules) == 0 {
		return "", fmt.Errorf("no rule files in monitoring/prometheus (%v)", err)
	}
	quote := func(ss []string) string {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = `"` + s + `"`
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	// The token is harmless where /metrics needs none.
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files: %s
scrape_configs:
  - job_name: notes
    metrics_path: %q
    authorization:
      type: Bearer
      credentials: %q
    static_configs:
      - targets: %s
`, quote(rules), cfg.metricsPath, adminToken, quote(targets))
	confPath := filepath.Join(tmp, "prometheus.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return "", err
	}
	addr, err := freePort()
	if err != nil {
		return "", err
	}
	logPath := filepath.Join(tmp, "prometheus.log")
	log, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer log.Close()
	cmd := exec.Command(cfg.prometheus, "--config.file="+confPath, "--storage.tsdb.path="+filepath.Join(tmp, "data"),
		"--web.listen-address="+addr, "--log.level=warn", "--storage.tsdb.retention.time=1h")
	cmd.Stdout, cmd.Stderr = log, log
	if err := ps.start(cmd, logPath); err != nil {
		return "", fmt.Errorf("start %s: %w (install it: apt-get install -y prometheus)", cfg.prometheus, err)
	}
	base := "http://" + addr
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("prometheus not ready: %w (log: %s)", ctx.Err(), logPath)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// traffic makes both instances record what they can.
func traffic(ctx context.Context, a, b, c *instance, down *atomic.Bool) error {
	client := &http.Client{Timeout: 10 * time.Second}
	var (
		mu   sync.Mutex
		errs []error
	)
	addErr := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	do := func(method, u, body string, want ...int) {
		req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
		if err != nil {
			addErr(err)
			return
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			addErr(fmt.Errorf("%s %s: %w", method, u, err))
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if len(want) > 0 && !slices.Contains(want, resp.StatusCode) {
			addErr(fmt.Errorf("%s %s: status %d, want %v", method, u, resp.StatusCode, want))
		}
	}
	note := `{"title":"monitoring","body":"a note for the monitoring check"}`

	// A: the happy paths and every guard.
	A := "http://" + a.http
	for range 3 {
		do("POST", A+"/v1/notes", note, 201)
	}
	do("GET", A+"/v1/notes", "", 200)
	do("GET", A+"/v1/notes/1", "", 200)
	do("GET", A+"/v1/notes/999999", "", 404)
	do("POST", A+"/v1/notes", `{"title":"big","body":"`+strings.Repeat("x", 4096)+`"}`, 413)
	// 504s: the handler honours cancellation, so at the deadline it races
	// Timeout to answer, and only the deadlines Timeout answers count on
	// chassis_timeout_expired_total; a dozen at once make a miss unlikely.
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() { do("GET", A+"/debug/sleep?d=3s", "", 504) })
	}
	wg.Wait()
	do("GET", A+"/v1/digest", "", 200)
	// Shedding, on B (whose rate limit is out of the way): far more
	// concurrent /debug/work requests than its slots and the adaptive limit
	// admit; twice, a few scrapes apart, so that the rejections counter has
	// a rate.
	for round := range 2 {
		for range 60 {
			wg.Go(func() { do("GET", "http://"+b.http+"/debug/work?d=100ms", "", 200, 503) })
		}
		wg.Wait()
		if round == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(3 * time.Second):
			}
		}
	}
	for range 3 {
		do("GET", A+"/readyz", "", 200)
	}
	if err := grpcHealth(ctx, a.grpc, "", "0"); err != nil {
		errs = append(errs, err)
	}
	if err := grpcHealth(ctx, a.grpc, "no-such-service", "5"); err != nil { // NOT_FOUND
		errs = append(errs, err)
	}
	for range 45 { // RATE_LIMIT=40 per minute: the last ones are 429s
		do("GET", A+"/v1/notes", "", 200, 429)
	}
	do("GET", A+"/v1/notes", "", 429)

	// B: Redis down (redislimit degraded and errors, a failing health
	// check), a busy downstream (retries until the budget is spent), then
	// a dead one (the breaker opens and refuses).
	B := "http://" + b.http
	for range 40 {
		do("POST", B+"/v1/notes", note, 201)
	}
	for range 3 {
		do("GET", B+"/readyz", "", 200, 503)
	}
	for start := time.Now(); time.Since(start) < 2500*time.Millisecond; {
		do("GET", B+"/v1/digest", "", 503)
	}
	down.Store(true)
	for range 3 {
		do("GET", B+"/v1/digest", "", 503, 504)
	}
	if err := grpcHealth(ctx, b.grpc, "", "0"); err != nil {
		errs = append(errs, err)
	}

	// C: a note through the shared cache tier (D gets the invalidation of
	// its deletion), then 10 requests per 2s in Redis: the denials after the
	// first are answered by the deny cache.
	if c != nil {
		C := "http://" + c.http
		do("POST", C+"/v1/notes", note, 201)
		do("GET", C+"/v1/notes/1", "", 200)
		do("DELETE", C+"/v1/notes/1", "", 204)
		for range 15 {
			do("GET", C+"/v1/notes", "", 200, 429)
		}
		do("GET", C+"/v1/notes", "", 429)
		do("GET", C+"/readyz", "", 200)
	}
	return errors.Join(errs...)
}

// background repeats requests that fail on B (and are refused on A) until
// ctx is done; their outcomes are not checked.
func background(ctx context.Context, a, b *instance) {
	client := &http.Client{Timeout: 2 * time.Second}
	get := func(u string) {
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err != nil {
			return
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	for {
		get("http://" + b.http + "/v1/digest")
		get("http://" + b.http + "/readyz")
		get("http://" + b.http + "/v1/notes/1")
		get("http://" + a.http + "/v1/notes")
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// expectedAlerts are the alerts the faults of instance B must make pending
// or firing in the real Prometheus: proof that their expressions match the
// series the code exports, labels included.
var expectedAlerts = []string{
	"ChassisHTTPErrorBudgetBurn",
	"ChassisCircuitBreakerOpen",
	"ChassisRetryBudgetExhausted",
	"ChassisRateLimiterDegraded",
	"ChassisHealthCheckDown",
	"ChassisJobFailing",
	"ChassisFlagsReloadRejected",
	"ChassisSharedCacheDegraded",
	"ChassisLoadShedding", // the /debug/work bursts
}

// checkAlerts fails every expected alert that is neither pending nor firing.
func checkAlerts(ctx context.Context, prom string, fail func(string, ...any)) error {
	var r struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string
				State  string
			}
		}
	}
	if err := getJSON(ctx, prom+"/api/v1/alerts", &r); err != nil {
		return err
	}
	active := map[string]string{}
	for _, a := range r.Data.Alerts {
		n := a.Labels["alertname"]
		if active[n] != "firing" {
			active[n] = a.State
		}
	}
	for _, n := range expectedAlerts {
		if st := active[n]; st == "" {
			fail("alert %s is not active although instance B has its fault: its expression no longer matches what the service exports?", n)
		} else {
			fmt.Printf("   ok   %s %s\n", n, st)
		}
	}
	for n, st := range active {
		if !slices.Contains(expectedAlerts, n) {
			fmt.Printf("   note: %s is %s too\n", n, st)
		}
	}
	return nil
}

// grpcHealth calls grpc.health.v1.Health/Check over cleartext HTTP/2 (the
// standard library speaks h2c since Go 1.24) and checks the grpc-status.
func grpcHealth(ctx context.Context, addr, service, wantStatus string) error {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 5 * time.Second}
	msg := []byte{}
	if service != "" { // HealthCheckRequest{service: 1}
		msg = append([]byte{0x0a, byte(len(service))}, service...)
	}
	frame := append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...)
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/grpc.health.v1.Health/Check", bytes.NewReader(frame))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("grpc health %s: %w", addr, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	got := resp.Trailer.Get("Grpc-Status")
	if got == "" {
		got = resp.Header.Get("Grpc-Status")
	}
	if got != wantStatus {
		return fmt.Errorf("grpc health %s (service %q): grpc-status %q, want %q", addr, service, got, wantStatus)
	}
	return nil
}

// waitScrapes waits until all the targets are up, then n more seconds (scrapes).
func waitScrapes(ctx context.Context, prom string, targets, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r apiResult
		err := getJSON(ctx, prom+"/api/v1/query?query="+url.QueryEscape(fmt.Sprintf(`count(up == 1) == %d`, targets)), &r)
		if err == nil && len(r.Data.Result) == 1 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("targets not all up within 30s (%v)", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(n)*time.Second + 500*time.Millisecond):
	}
	return nil
}

type apiResult struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
	} `json:"data"`
}

func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: %w: %.200s", u, err, body)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %.300s", u, resp.Status, body)
	}
	return nil
}

// queryData is querySeries, asked once more after two scrapes when the
// answer is empty, so that one slow scrape on a loaded machine (whose
// series are then stale for a second) cannot fail the check.
func queryData(ctx context.Context, prom, q string) (int, error) {
	n, err := querySeries(ctx, prom, q)
	if n > 0 || err != nil {
		return n, err
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(2500 * time.Millisecond):
	}
	return querySeries(ctx, prom, q)
}

// querySeries runs an instant query and returns the number of series.
func querySeries(ctx context.Context, prom, q string) (int, error) {
	var r apiResult
	if err := getJSON(ctx, prom+"/api/v1/query?query="+url.QueryEscape(q), &r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, errors.New(r.Error)
	}
	if r.Data.ResultType == "scalar" {
		return 1, nil
	}
	return len(r.Data.Result), nil
}

func labelValues(ctx context.Context, prom, label string) ([]string, error) {
	var r struct{ Data []string }
	err := getJSON(ctx, prom+"/api/v1/label/"+label+"/values", &r)
	return r.Data, err
}

// baseName strips the histogram suffixes.
func baseName(s string) string {
	for _, suf := range []string{"_bucket", "_count", "_sum"} {
		if t, ok := strings.CutSuffix(s, suf); ok {
			return t
		}
	}
	return s
}

func hasMetric(scraped []string, name string) bool {
	return slices.ContainsFunc(scraped, func(s string) bool { return s == name || baseName(s) == name })
}

type invMetric struct {
	name      string
	histogram bool
	line      int
}

// parseInventory reads the "Prometheus name" column of every table of
// docs/metrics.md, with the "kind" column to tell histograms.
func parseInventory(path string) ([]invMetric, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []invMetric
	var header []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			header = nil
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		if header == nil {
			header = cells
			continue
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		pc, kc := slices.Index(header, "Prometheus name"), slices.Index(header, "kind")
		if pc < 0 || pc >= len(cells) {
			continue
		}
		for _, m := range regexp.MustCompile("`([a-zA-Z_:][a-zA-Z0-9_:]*)`").FindAllStringSubmatch(cells[pc], -1) {
			hist := kc >= 0 && kc < len(cells) && strings.Contains(cells[kc], "Histogram")
			out = append(out, invMetric{name: m[1], histogram: hist, line: i + 1})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no \"Prometheus name\" column found", path)
	}
	return out, nil
}

type panelExpr struct{ panel, expr string }

// dashboardExprs returns the query of every target of every panel,
// including the panels inside collapsed rows.
func dashboardExprs(path string) ([]panelExpr, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	type panelT struct {
		Title   string
		Targets []struct{ Expr string }
		Panels  json.RawMessage
	}
	var d struct{ Panels []json.RawMessage }
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []panelExpr
	var walk func([]json.RawMessage) error
	walk = func(ps []json.RawMessage) error {
		for _, raw := range ps {
			var p panelT
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			for _, t := range p.Targets {
				if t.Expr != "" {
					out = append(out, panelExpr{p.Title, t.Expr})
				}
			}
			if len(p.Panels) > 0 {
				var inner []json.RawMessage
				if err := json.Unmarshal(p.Panels, &inner); err != nil {
					return err
				}
				if err := walk(inner); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no panel queries", path)
	}
	return out, nil
}

// substitute replaces Grafana's variables the way Grafana would with "All"
// selected and a 1s scrape interval.
func substitute(e string) string {
	r := strings.NewReplacer("${job}", ".*", "$job", ".*", "${instance}", ".*", "$instance", ".*",
		"$__rate_interval", "1m", "${__rate_interval}", "1m", "$__interval", "15s", "$__range", "5m")
	return r.Replace(e)
}

var (
	identRe   = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	stringsRe = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	// label lists of by, without, on, ignoring, group_left, group_right
	groupingRe = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	// a label name in a matcher
	matcherRe = regexp.MustCompile(`[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)`)
	metricRe  = regexp.MustCompile(`^(chassis|http|rpc|db|target)_[a-z0-9_]+$`)
)

// metricNames returns the metric names an expression selects (outside
// strings), without histogram suffixes; recorded series (with a colon) are
// not metrics.
func metricNames(e string) []string {
	e = stringsRe.ReplaceAllString(e, `""`)
	e = groupingRe.ReplaceAllString(e, "")
	e = matcherRe.ReplaceAllString(e, "")
	seen := map[string]bool{}
	var out []string
	for _, id := range identRe.FindAllString(e, -1) {
		if !metricRe.MatchString(id) {
			continue
		}
		n := baseName(id)
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// allowlisted returns the first metric of e the reference service cannot
// emit, or "".
func allowlisted(e string) string {
	for _, m := range metricNames(e) {
		if _, ok := notEmitted[m]; ok {
			return m
		}
	}
	return ""
}

type ruleInfo struct{ name, query string }

// checkRules fails every rule that is not healthy, after waiting for every
// rule to have been evaluated once.
func checkRules(ctx context.Context, prom string, fail func(string, ...any)) error {
	type rule struct {
		Name, Query, Health, LastError, Type string
	}
	var r struct {
		Data struct {
			Groups []struct {
				Name, File string
				Rules      []rule
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := getJSON(ctx, prom+"/api/v1/rules", &r); err != nil {
			return err
		}
		pending := 0
		for _, g := range r.Data.Groups {
			for _, ru := range g.Rules {
				if ru.Health == "unknown" {
					pending++
				}
			}
		}
		if pending == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	n := 0
	for _, g := range r.Data.Groups {
		for _, ru := range g.Rules {
			n++
			if ru.Health != "ok" || ru.LastError != "" {
				fail("rule %s (group %s, %s): health %q %s", ru.Name, g.Name, filepath.Base(g.File), ru.Health, ru.LastError)
			}
		}
	}
	if n == 0 {
		fail("no rules loaded")
	}
	fmt.Printf("   %d rules in %d groups healthy\n", n, len(r.Data.Groups))
	return nil
}

func ruleQueries(ctx context.Context, prom string) ([]ruleInfo, error) {
	var r struct {
		Data struct {
			Groups []struct {
				Rules []struct{ Name, Query string }
			}
		}
	}
	if err := getJSON(ctx, prom+"/api/v1/rules", &r); err != nil {
		return nil, err
	}
	var out []ruleInfo
	for _, g := range r.Data.Groups {
		for _, ru := range g.Rules {
			out = append(out, ruleInfo{ru.Name, ru.Query})
		}
	}
	return out, nil
}

// targetHealth prints the scrape state of every target, for a failed run.
func targetHealth(ctx context.Context, prom string) {
	var r struct {
		Data struct {
			ActiveTargets []struct {
				ScrapeURL, Health, LastError string
				LastScrape                   time.Time
				LastScrapeDuration           float64
			}
		}
	}
	if err := getJSON(ctx, prom+"/api/v1/targets", &r); err != nil {
		fmt.Fprintln(os.Stderr, "targets:", err)
		return
	}
	for _, t := range r.Data.ActiveTargets {
		fmt.Fprintf(os.Stderr, "target %s: %s, last scrape %s ago in %.3fs %s\n", t.ScrapeURL, t.Health,
			time.Since(t.LastScrape).Round(time.Millisecond), t.LastScrapeDuration, t.LastError)
	}
}
