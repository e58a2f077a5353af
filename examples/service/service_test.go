package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// binDir holds the service binary, built once for every test.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chassis-service-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
}

var (
	buildOnce sync.Once
	buildErr  error
)

// serviceBinary builds the service (with -race when the test has it, so the
// build reuses the test's compiled packages) and returns its path.
func serviceBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "service")
	buildOnce.Do(func() {
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		gotool, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		out, err := exec.Command(gotool, append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

// proc is the service binary running under test.
type proc struct {
	cmd       *exec.Cmd
	httpAddr  string
	grpcAddr  string
	adminAddr string

	mu     sync.Mutex
	stderr bytes.Buffer // every log line, for assertions
	done   chan error   // the process's exit
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

const downstreamToken = "s3cr3t-downstream-token-value"

// startService builds the service binary, starts it on loopback ports chosen
// by the kernel, and waits for its "listening" log line.
func startService(t *testing.T, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(serviceBinary(t))
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"HTTP_ADDR=127.0.0.1:0",
		"GRPC_ADDR=127.0.0.1:0",
		"ADMIN_ADDR=127.0.0.1:0",
		"LOG_LEVEL=info",
		"TRUSTED_PROXIES=127.0.0.1/32",
		"DOWNSTREAM_TOKEN=" + downstreamToken,
		"OTEL_TRACES_EXPORTER=none",
	}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.stderr.Write(line)
			p.stderr.WriteByte('\n')
			p.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal(line, &rec) == nil && rec["msg"] == "listening" {
				select {
				case listening <- rec:
				default:
				}
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case rec := <-listening:
		p.httpAddr, _ = rec["http"].(string)
		p.grpcAddr, _ = rec["grpc"].(string)
		p.adminAddr, _ = rec["admin"].(string)
	case err := <-p.done:
		t.Fatalf("service exited before listening: %v\n%s", err, p.logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("service did not log \"listening\" within 60s\n%s", p.logs())
	}
	return p
}

// client sends requests as a distinct client IP through the trusted proxy
// header, so each subtest has its own rate-limit bucket.
type client struct {
	t    *testing.T
	base string
	ip   string
	hc   *http.Client
}

func (c client) do(method, path, contentType, body string, hdr ...string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body == "" {
		req.Body = http.NoBody
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("X-Forwarded-For", c.ip)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, b
}

func wantProblem(t *testing.T, resp *http.Response, body []byte, status int) map[string]any {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d; want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q; want application/problem+json; body %s", ct, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("problem body %s: %v", body, err)
	}
	if int(m["status"].(float64)) != status {
		t.Fatalf("problem status member = %v; want %d", m["status"], status)
	}
	return m
}

func TestService(t *testing.T) {
	p := startService(t,
		"RATE_LIMIT=5", "RATE_LIMIT_PER=1m",
		"MAX_BODY_BYTES=1024",
		"REQUEST_TIMEOUT=5s",
		"DEBUG_ENDPOINTS=true",
		"DRAIN_DELAY=3s", "SHUTDOWN_TIMEOUT=10s",
	)
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	base := "http://" + p.httpAddr
	nextIP := 0
	as := func(t *testing.T) client {
		nextIP++
		return client{t: t, base: base, ip: fmt.Sprintf("198.51.100.%d", nextIP), hc: hc}
	}

	t.Run("notes CRUD", func(t *testing.T) {
		c := as(t)
		resp, body := c.do("POST", "/v1/notes", "application/json", `{"title":"first","body":"three little words"}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /v1/notes = %d %s; want 201", resp.StatusCode, body)
		}
		var n struct {
			ID    int64  `json:"id"`
			Title string `json:"title"`
		}
		if err := json.Unmarshal(body, &n); err != nil || n.ID == 0 || n.Title != "first" {
			t.Fatalf("created note = %s (%v)", body, err)
		}
		if loc := resp.Header.Get("Location"); loc != fmt.Sprintf("/v1/notes/%d", n.ID) {
			t.Errorf("Location = %q", loc)
		}
		if resp.Header.Get("X-Request-ID") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("missing request id or security headers: %v", resp.Header)
		}
		if resp.Header.Get("RateLimit") == "" || resp.Header.Get("RateLimit-Policy") == "" {
			t.Errorf("missing RateLimit headers: %v", resp.Header)
		}
		resp, body = c.do("GET", fmt.Sprintf("/v1/notes/%d", n.ID), "", "")
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"three little words"`) {
			t.Errorf("GET note = %d %s", resp.StatusCode, body)
		}
		resp, body = c.do("GET", "/v1/notes", "", "")
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"first"`) {
			t.Errorf("GET /v1/notes = %d %s", resp.StatusCode, body)
		}
		resp, _ = c.do("DELETE", fmt.Sprintf("/v1/notes/%d", n.ID), "", "")
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("DELETE = %d; want 204", resp.StatusCode)
		}
		resp, body = c.do("GET", fmt.Sprintf("/v1/notes/%d", n.ID), "", "", "X-Request-ID", "trace-me-1")
		m := wantProblem(t, resp, body, 404)
		if m["request_id"] != "trace-me-1" {
			t.Errorf("problem request_id = %v; want trace-me-1", m["request_id"])
		}
	})

	t.Run("bad input", func(t *testing.T) {
		c := as(t)
		resp, body := c.do("POST", "/v1/notes", "application/json", `{"title":`)
		wantProblem(t, resp, body, 400)
		resp, body = c.do("POST", "/v1/notes", "text/plain", `{"title":"x"}`)
		wantProblem(t, resp, body, 415)
		resp, body = c.do("POST", "/v1/notes", "application/json", `{"title":"x","__proto__":{}}`)
		wantProblem(t, resp, body, 400)
		resp, body = c.do("POST", "/v1/notes", "application/json", `{"title":"  "}`)
		wantProblem(t, resp, body, 422)
	})

	t.Run("413 body too large", func(t *testing.T) {
		c := as(t)
		big := `{"title":"big","body":"` + strings.Repeat("x", 2048) + `"}`
		resp, body := c.do("POST", "/v1/notes", "application/json", big)
		wantProblem(t, resp, body, 413)
	})

	t.Run("digest fans out to the downstream", func(t *testing.T) {
		c := as(t)
		for _, text := range []string{"one", "one two", "one two three"} {
			resp, body := c.do("POST", "/v1/notes", "application/json", fmt.Sprintf(`{"title":%q,"body":%q}`, text, text))
			if resp.StatusCode != 201 {
				t.Fatalf("POST = %d %s", resp.StatusCode, body)
			}
		}
		resp, body := c.do("GET", "/v1/digest", "", "")
		if resp.StatusCode != 200 {
			t.Fatalf("GET /v1/digest = %d %s", resp.StatusCode, body)
		}
		var d struct {
			Notes []struct {
				Title string `json:"title"`
				Words int    `json:"words"`
			} `json:"notes"`
		}
		if err := json.Unmarshal(body, &d); err != nil {
			t.Fatal(err)
		}
		words := map[string]int{}
		for _, n := range d.Notes {
			words[n.Title] = n.Words
		}
		if words["one"] != 1 || words["one two"] != 2 || words["one two three"] != 3 {
			t.Errorf("digest words = %v; want one=1 two=2 three=3 (body %s)", words, body)
		}
	})

	t.Run("429 after the limit", func(t *testing.T) {
		c := as(t)
		for i := range 5 {
			if resp, body := c.do("GET", "/v1/notes", "", ""); resp.StatusCode != 200 {
				t.Fatalf("request %d = %d %s; want 200", i+1, resp.StatusCode, body)
			}
		}
		resp, body := c.do("GET", "/v1/notes", "", "")
		wantProblem(t, resp, body, 429)
		// 5 per minute: the next token comes in about 12s.
		if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" || ra == "1" {
			t.Errorf("Retry-After = %q; want the real wait (about 12)", ra)
		}
		// Another client is unaffected.
		if resp, _ := as(t).do("GET", "/v1/notes", "", ""); resp.StatusCode != 200 {
			t.Errorf("other client = %d; want 200", resp.StatusCode)
		}
	})

	t.Run("504 on timeout", func(t *testing.T) {
		resp, body := as(t).do("GET", "/debug/sleep?d=30s", "", "")
		wantProblem(t, resp, body, 504)
	})

	t.Run("probes and metrics", func(t *testing.T) {
		c := as(t)
		resp, body := c.do("GET", "/livez", "", "")
		if resp.StatusCode != 200 {
			t.Errorf("/livez = %d %s", resp.StatusCode, body)
		}
		resp, body = c.do("GET", "/readyz", "", "")
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"notes-store"`) {
			t.Errorf("/readyz = %d %s", resp.StatusCode, body)
		}
		// /metrics is served on the admin listener, not the public port.
		if resp, _ := c.do("GET", "/metrics", "", ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("public /metrics = %d; want 404", resp.StatusCode)
		}
		resp, body = client{t: t, base: "http://" + p.adminAddr, ip: c.ip, hc: c.hc}.do("GET", "/metrics", "", "")
		for _, want := range []string{"chassis_ratelimit_decisions_total", "http_server_request_duration_seconds", "chassis_health_check_duration_seconds"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if resp.StatusCode != 200 {
			t.Errorf("/metrics = %d", resp.StatusCode)
		}
	})

	t.Run("list sizes are capped", func(t *testing.T) {
		resp, body := as(t).do("GET", "/v1/notes?limit=1000", "", "")
		wantProblem(t, resp, body, http.StatusBadRequest)
		if resp, body := as(t).do("GET", "/v1/notes?limit=100", "", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("limit=100 = %d %s; want 200", resp.StatusCode, body)
		}
	})

	t.Run("IPv6 clients are limited by /64", func(t *testing.T) {
		// RATE_LIMIT=5: addresses rotating inside one /64 share one bucket.
		var codes []int
		for i := range 7 {
			c := client{t: t, base: base, ip: fmt.Sprintf("2001:db8:77:1::%x", i+1), hc: hc}
			resp, _ := c.do("GET", "/v1/notes", "", "")
			codes = append(codes, resp.StatusCode)
		}
		if codes[5] != http.StatusTooManyRequests || codes[6] != http.StatusTooManyRequests {
			t.Errorf("7 requests from 7 addresses of one /64 = %v; want the 6th and 7th limited", codes)
		}
	})

	t.Run("CORS preflight", func(t *testing.T) {
		resp, _ := as(t).do("OPTIONS", "/v1/notes", "", "", "Origin", "http://localhost:3000", "Access-Control-Request-Method", "POST")
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://localhost:3000" {
			t.Errorf("Access-Control-Allow-Origin = %q (status %d)", got, resp.StatusCode)
		}
	})

	t.Run("grpc health", func(t *testing.T) {
		conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("grpc Check = %v, %v; want SERVING", res.GetStatus(), err)
		}
		// The gRPC port is rate limited like HTTP (RATE_LIMIT=5 per client
		// per minute): a flood of health Checks from one peer is refused.
		var ok, exhausted int
		for range 10 {
			_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			switch status.Code(err) {
			case codes.OK:
				ok++
			case codes.ResourceExhausted:
				exhausted++
			default:
				t.Fatalf("grpc Check = %v; want OK or ResourceExhausted", err)
			}
		}
		if ok > 4 || exhausted < 6 {
			t.Errorf("10 more Checks: %d OK, %d ResourceExhausted; want at most 4 OK (limit 5, one spent)", ok, exhausted)
		}
	})

	t.Run("secrets are not logged", func(t *testing.T) {
		logs := p.logs()
		if strings.Contains(logs, downstreamToken) {
			t.Error("the downstream token appears in the logs")
		}
		if !strings.Contains(logs, `"DOWNSTREAM_TOKEN":"[REDACTED]"`) {
			t.Errorf("the start-up config line does not show DOWNSTREAM_TOKEN redacted:\n%s", firstLines(logs, 3))
		}
	})

	t.Run("SIGTERM drains without losing a request", func(t *testing.T) {
		const inflight = 20
		type result struct {
			status int
			body   string
			err    error
		}
		results := make(chan result, inflight)
		started := make(chan struct{}, inflight)
		for i := range inflight {
			go func() {
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s/debug/sleep?d=2s&stream=1", base), nil)
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
				resp, err := hc.Do(req)
				started <- struct{}{}
				if err != nil {
					results <- result{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				results <- result{status: resp.StatusCode, body: string(b), err: err}
			}()
		}
		for range inflight { // every request's status line has arrived
			<-started
		}
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		// During the drain delay readiness fails while requests are served.
		// Synchronise on the service's own "draining" line (logged when the
		// drain starts) instead of polling for a window: the drain delay
		// (DRAIN_DELAY=3s) is far longer than one local request.
		if err := waitLog(p, `"msg":"draining"`, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("/readyz during the drain: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/readyz during the drain = %d; want 503", resp.StatusCode)
		}
		for range inflight {
			r := <-results
			if r.err != nil || r.status != 200 || r.body != "{\"slept\":\"2s\"}\n" {
				t.Errorf("in-flight request = %d %q %v; want 200 and the full body", r.status, r.body, r.err)
			}
		}
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("service exit = %v; want 0\n%s", err, p.logs())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("service did not exit within 30s of SIGTERM")
		}
		if conn, err := net.Dial("tcp", p.httpAddr); err == nil {
			conn.Close()
			t.Error("the HTTP port still accepts connections after exit")
		}
		if !strings.Contains(p.logs(), `"msg":"stopped cleanly"`) {
			t.Errorf("no clean stop logged:\n%s", p.logs())
		}
	})
}

// waitLog waits until the service has logged a line containing want. It
// reads what the process already wrote, so there is no race with the line
// being written before the call.
func waitLog(p *proc, want string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for !strings.Contains(p.logs(), want) {
		if time.Now().After(deadline) {
			return fmt.Errorf("no log line with %s within %v:\n%s", want, limit, p.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func TestBadConfigFailsAtStart(t *testing.T) {
	cmd := exec.Command(serviceBinary(t))
	cmd.Env = []string{"RATE_LIMIT=0", "LOG_LEVEL=loud", "DOWNSTREAM_TOKEN=" + downstreamToken, "DOWNSTREAM_URL=ftp://x"}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("service started with a bad config:\n%s", out)
	}
	for _, want := range []string{"RATE_LIMIT", "LOG_LEVEL", "DOWNSTREAM_URL"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("error output does not name %s:\n%s", want, out)
		}
	}
	if bytes.Contains(out, []byte(downstreamToken)) {
		t.Errorf("error output shows a secret:\n%s", out)
	}
}

// TestServiceWithRedis runs the rate limit on a real Redis, as a fleet of
// replicas would: two service processes share one limit. It needs
// CHASSIS_REDIS_ADDR (.ci/run sets it).
func TestServiceWithRedis(t *testing.T) {
	addr := os.Getenv("CHASSIS_REDIS_ADDR")
	if addr == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CHASSIS_REDIS_ADDR is not set: CI must run this test against the real Redis")
		}
		t.Skip("CHASSIS_REDIS_ADDR is not set; skipping the test against a real Redis")
	}
	env := []string{"REDIS_ADDR=" + addr, "RATE_LIMIT=4", "RATE_LIMIT_PER=1h", "DRAIN_DELAY=0s"}
	a, b := startService(t, env...), startService(t, env...)
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	// A client address in a /64 no earlier run used (the service keys IPv6
	// clients by their /64), so the shared bucket starts full.
	n := time.Now().UnixNano()
	ip := fmt.Sprintf("2001:db8:%x:%x:%x::1", n>>32&0xffff, n>>16&0xffff, n&0xffff)
	if _, err := netip.ParseAddr(ip); err != nil {
		t.Fatalf("test client address %q: %v", ip, err)
	}
	statuses := make([]int, 0, 6)
	for i := range 6 {
		base := "http://" + a.httpAddr
		if i%2 == 1 {
			base = "http://" + b.httpAddr
		}
		resp, _ := client{t: t, base: base, ip: ip, hc: hc}.do("GET", "/v1/notes", "", "")
		statuses = append(statuses, resp.StatusCode)
	}
	want := []int{200, 200, 200, 200, 429, 429}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("statuses across two replicas = %v; want %v (one shared limit of 4)", statuses, want)
	}
	resp, body := client{t: t, base: "http://" + a.httpAddr, ip: ip, hc: hc}.do("GET", "/readyz", "", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"redis"`) {
		t.Errorf("/readyz = %d %s; want 200 with a redis check", resp.StatusCode, body)
	}
	for _, p := range []*proc{a, b} {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("exit = %v; want 0\n%s", err, p.logs())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no exit within 30s of SIGTERM")
		}
	}
}
