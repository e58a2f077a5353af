package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// moduleRoot returns the chassis repository root, where `go build
// ./examples/service` must run: the parent of this soak module, which lives
// in its own module (soak/) so that its code never enters the toolkit's.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module: run the soak from the chassis repository's soak directory")
	}
	root := filepath.Dir(filepath.Dir(mod))
	if _, err := os.Stat(filepath.Join(root, "examples", "service")); err != nil {
		return "", fmt.Errorf("no examples/service beside the soak module (%s): %w", root, err)
	}
	return root, nil
}

// buildService compiles ./examples/service into dir and returns the
// binary's path.
func buildService(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "service")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/service")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./examples/service: %w\n%s", err, out)
	}
	return bin, nil
}

// proc is the running service binary.
type proc struct {
	cmd      *exec.Cmd
	httpAddr string
	grpcAddr string // from the "listening" line; "" if it has none
	base     string // http://httpAddr
	admin    string // http://<admin listener>, where /metrics is; base if the service has none
	logs     *logSink
	started  time.Time

	done     chan struct{} // closed when the process has exited
	exitErr  error         // valid after done
	exitedAt time.Time     // valid after done
}

// startService runs bin with env (on top of a minimal environment) and
// waits for its "listening" log line.
func startService(ctx context.Context, bin string, env []string) (*proc, error) {
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	p := &proc{cmd: cmd, logs: newLogSink(), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p.started = time.Now()
	listening := make(chan map[string]any, 1)
	go func() {
		p.logs.consume(stderr, listening)
		p.exitErr = cmd.Wait()
		p.exitedAt = time.Now()
		close(p.done)
	}()
	select {
	case rec := <-listening:
		p.httpAddr, _ = rec["http"].(string)
		p.grpcAddr, _ = rec["grpc"].(string)
		p.base = "http://" + p.httpAddr
		p.admin = p.base
		if a, _ := rec["admin"].(string); a != "" {
			p.admin = "http://" + a
		}
		if p.httpAddr == "" {
			p.kill()
			return nil, fmt.Errorf("the listening line has no http address: %v", rec)
		}
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("service exited before listening: %v\n%s", p.exitErr, p.logs.tail(20))
	case <-time.After(60 * time.Second):
		p.kill()
		return nil, fmt.Errorf("service did not log \"listening\" within 60s\n%s", p.logs.tail(20))
	case <-ctx.Done():
		p.kill()
		return nil, ctx.Err()
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill stops the process at once, if it still runs, and waits for it.
func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// sigterm sends SIGTERM.
func (p *proc) sigterm() error { return p.cmd.Process.Signal(syscall.SIGTERM) }

// wait waits up to d for the process to exit and reports whether it did.
func (p *proc) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// exitCode returns the process's exit code (-1 if killed by a signal).
func (p *proc) exitCode() int { return p.cmd.ProcessState.ExitCode() }

// memStatus returns VmRSS and VmHWM (peak RSS), in bytes, from
// /proc/<pid>/status.
func (p *proc) memStatus() (rss, hwm uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		return 0, 0, err
	}
	return parseProcStatus(b)
}

// parseProcStatus reads VmRSS and VmHWM (kB) from a /proc/<pid>/status
// text.
func parseProcStatus(b []byte) (rss, hwm uint64, err error) {
	var haveRSS, haveHWM bool
	for line := range strings.SplitSeq(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != "VmRSS" && name != "VmHWM" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc status: bad %s line %q", name, line)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc status: bad %s line %q", name, line)
		}
		if name == "VmRSS" {
			rss, haveRSS = kb<<10, true
		} else {
			hwm, haveHWM = kb<<10, true
		}
	}
	if !haveRSS || !haveHWM {
		return 0, 0, errors.New("/proc status: no VmRSS or VmHWM line")
	}
	return rss, hwm, nil
}

// runtimeStats is the answer of GET /debug/runtime.
type runtimeStats struct {
	Goroutines     int    `json:"goroutines"`
	HeapAllocBytes uint64 `json:"heap_alloc_bytes"`
	HeapInuseBytes uint64 `json:"heap_inuse_bytes"`
}

// adminKey is the client key of the soak's own bookkeeping requests.
const adminKey = "198.51.100.250"

// errNoRuntime is returned by runtime when the service has no
// /debug/runtime endpoint.
var errNoRuntime = errors.New("soak: the service has no GET /debug/runtime")

// runtime asks the service for its goroutine count and heap. The gc=1
// parameter asks it to collect garbage first, so that the heap is the live
// heap; a service that ignores it reports whatever the heap holds.
func (p *proc) runtime(ctx context.Context, hc *http.Client) (runtimeStats, error) {
	var rs runtimeStats
	b, status, err := get(ctx, hc, p.base+"/debug/runtime?gc=1", adminKey)
	switch {
	case err != nil:
		return rs, err
	case status == http.StatusNotFound:
		return rs, errNoRuntime
	case status != http.StatusOK:
		return rs, fmt.Errorf("GET /debug/runtime: %d %s", status, truncate(b, 200))
	}
	if err := json.Unmarshal(b, &rs); err != nil || rs.Goroutines == 0 {
		return rs, fmt.Errorf("GET /debug/runtime: unexpected body %s", truncate(b, 200))
	}
	return rs, nil
}

// metrics fetches and parses GET /metrics.
func (p *proc) metrics(ctx context.Context, hc *http.Client) (promSamples, error) {
	b, status, err := get(ctx, hc, p.admin+"/metrics", adminKey)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %d %s", status, truncate(b, 200))
	}
	return parseProm(b), nil
}

// setLogLevel changes the service's log level through PUT /debug/loglevel.
func (p *proc) setLogLevel(ctx context.Context, hc *http.Client, level string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, p.base+"/debug/loglevel", strings.NewReader(`{"level":"`+level+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", adminKey)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT /debug/loglevel: %d %s", resp.StatusCode, truncate(b, 200))
	}
	return nil
}

// get sends a GET as client key and returns the body and status.
func get(ctx context.Context, hc *http.Client, url, key string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("X-Forwarded-For", key)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return b, resp.StatusCode, err
}

// logSink consumes the service's stderr: it counts lines by level, keeps
// the last few, and remembers the lines that matter to the soak. Safe for
// concurrent use.
type logSink struct {
	mu       sync.Mutex
	lines    uint64
	byLevel  map[string]uint64
	panics   uint64 // lines mentioning a panic
	clean    bool   // "stopped cleanly" was logged
	stopErr  string // the err of a "stopped" line (a shutdown that failed)
	ring     []string
	ringNext int
}

const logRing = 50

func newLogSink() *logSink {
	return &logSink{byLevel: make(map[string]uint64), ring: make([]string, 0, logRing)}
}

// consume reads r to EOF, sending the first "listening" record to
// listening (if it has room).
func (s *logSink) consume(r io.Reader, listening chan<- map[string]any) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sent := false
	for sc.Scan() {
		line := sc.Bytes()
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Panic bool   `json:"panic"`
			Err   any    `json:"err"`
		}
		isJSON := json.Unmarshal(line, &rec) == nil
		if isJSON && !sent && rec.Msg == "listening" {
			var full map[string]any
			if json.Unmarshal(line, &full) == nil {
				select {
				case listening <- full:
				default:
				}
				sent = true
			}
		}
		s.mu.Lock()
		s.lines++
		level := rec.Level
		if !isJSON {
			level = "non-json"
		}
		s.byLevel[level]++
		if rec.Panic || strings.Contains(rec.Msg, "panic") || !isJSON && bytes.Contains(line, []byte("panic")) {
			s.panics++
		}
		if rec.Msg == "stopped cleanly" {
			s.clean = true
		}
		if rec.Msg == "stopped" {
			s.stopErr = fmt.Sprint(rec.Err)
		}
		if len(s.ring) < logRing {
			s.ring = append(s.ring, string(line))
		} else {
			s.ring[s.ringNext] = string(line)
			s.ringNext = (s.ringNext + 1) % logRing
		}
		s.mu.Unlock()
	}
	// Any read error means the pipe is gone with the process.
	_, _ = io.Copy(io.Discard, r)
}

// stopError returns the err of the service's "stopped" line, "" if it
// logged none.
func (s *logSink) stopError() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopErr
}

// tail returns up to n of the last lines.
func (s *logSink) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ordered := append(append([]string(nil), s.ring[s.ringNext:]...), s.ring[:s.ringNext]...)
	if len(ordered) > n {
		ordered = ordered[len(ordered)-n:]
	}
	return strings.Join(ordered, "\n")
}

// snapshot returns the counters.
func (s *logSink) snapshot() (lines uint64, byLevel map[string]uint64, panics uint64, clean bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byLevel = make(map[string]uint64, len(s.byLevel))
	for k, v := range s.byLevel {
		byLevel[k] = v
	}
	return s.lines, byLevel, s.panics, s.clean
}

// discardLog is an error logger for the soak's own servers: they see
// resets and aborted connections on purpose.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
