// Command e2e measures the reference service (examples/service) end to end:
// requests per second and latency percentiles of GET /v1/notes/{id} through
// its full middleware stack, against the same handler on a bare net/http
// ServeMux, both served by separate processes on loopback and loaded in
// alternation by the same closed-loop generator in one run.
//
// Each side gets -conns connections, each with one request in flight at a
// time (closed loop), for -warmup and then -duration per round; the sides
// alternate for -rounds rounds, so a change in the machine's load hits both
// alike. The whole run is bounded: rounds × 2 × (warmup + duration), plus
// building and starting the servers.
//
// The chassis side is the service binary built from ../examples/service
// (-root), started as its tests start it (loopback ports chosen by the
// kernel, OTEL_TRACES_EXPORTER=none, in-memory store) with RATE_LIMIT high
// enough that no request is rate limited, and LOG_LEVEL=info (which the
// "listening" line needs): one access-log line per request, which this
// command reads and discards. The
// bare side is this binary re-executed with -serve-bare: the notes handler
// with the same code (httpkit.WriteJSON, problem.Write) on a bare ServeMux,
// no middleware.
//
// Usage (from bench/): go run ./cmd/e2e [-conns 16] [-duration 10s] [-rounds 3]
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chassis-go/chassis/httpkit"
	"github.com/chassis-go/chassis/problem"
)

// maxSamples bounds the latencies kept per round and side (8 bytes each).
const maxSamples = 4 << 20

func main() {
	var (
		serveBare = flag.Bool("serve-bare", false, "internal: serve the bare handler and print its address")
		root      = flag.String("root", "..", "repository root (holding examples/service)")
		conns     = flag.Int("conns", 16, "connections per side, one request in flight each")
		duration  = flag.Duration("duration", 10*time.Second, "measured time per round and side")
		warmup    = flag.Duration("warmup", time.Second, "unmeasured time before each measurement")
		rounds    = flag.Int("rounds", 3, "rounds; each round measures both sides")
		cpuprof   = flag.String("cpuprofile", "", "write the service's CPU profile during the first chassis round to this file (from its admin listener)")
	)
	flag.Parse()
	if *serveBare {
		runBare()
		return
	}
	if *conns < 1 || *rounds < 1 || *duration <= 0 || *duration > 10*time.Minute || *warmup < 0 {
		log.Fatal("e2e: -conns and -rounds must be at least 1, -duration in (0, 10m], -warmup not negative")
	}

	tmp, err := os.MkdirTemp("", "e2e")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	svcBin := filepath.Join(tmp, "service")
	build := exec.Command("go", "build", "-o", svcBin, "./examples/service")
	build.Dir = *root
	if out, err := build.CombinedOutput(); err != nil {
		log.Fatalf("e2e: building the service: %v\n%s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}

	var adminAddr string
	svc, svcAddr := start(exec.Command(svcBin), func(line []byte) string {
		var rec struct {
			Msg   string `json:"msg"`
			HTTP  string `json:"http"`
			Admin string `json:"admin"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
			adminAddr = rec.Admin
			return rec.HTTP
		}
		return ""
	}, "HTTP_ADDR=127.0.0.1:0", "GRPC_ADDR=127.0.0.1:0", "ADMIN_ADDR=127.0.0.1:0", "LOG_LEVEL=info",
		"RATE_LIMIT=1000000000", "RATE_LIMIT_PER=1s", "DRAIN_DELAY=0s",
		"OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none")
	defer stop(svc)
	bare, bareAddr := start(exec.Command(self, "-serve-bare"), func(line []byte) string {
		if s, ok := strings.CutPrefix(string(line), "listening "); ok {
			return s
		}
		return ""
	})
	defer stop(bare)

	sides := []struct {
		name, url string
	}{
		{"bare", "http://" + bareAddr + createNote(bareAddr)},
		{"chassis", "http://" + svcAddr + createNote(svcAddr)},
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("# e2e: GET /v1/notes/{id}, %d connections, %v per round and side after %v warmup, %d rounds\n",
		*conns, *duration, *warmup, *rounds)
	fmt.Printf("# %s; load average at start: %s", time.Now().UTC().Format(time.RFC3339), load)
	results := map[string][]result{}
	for round := 1; round <= *rounds; round++ {
		for _, s := range sides {
			var prof chan error
			if s.name == "chassis" && round == 1 && *cpuprof != "" {
				prof = make(chan error, 1)
				go func() { prof <- profile(adminAddr, *warmup, *duration, *cpuprof) }()
			}
			res := run(s.url, *conns, *warmup, *duration)
			if prof != nil {
				if err := <-prof; err != nil {
					log.Printf("e2e: cpu profile: %v", err)
				}
			}
			results[s.name] = append(results[s.name], res)
			fmt.Printf("round %d %-8s %8.0f req/s  p50 %8v  p99 %8v  errors %d\n",
				round, s.name, res.rps, res.p50, res.p99, res.errors)
		}
	}
	load, _ = os.ReadFile("/proc/loadavg")
	fmt.Printf("# load average at end: %s", load)
	b, c := median(results["bare"]), median(results["chassis"])
	fmt.Printf("median   bare %8.0f req/s  p99 %v\n", b.rps, b.p99)
	fmt.Printf("median   chassis %5.0f req/s  p99 %v\n", c.rps, c.p99)
	fmt.Printf("ratio    chassis/bare throughput %.2f×, p99 %.2f×\n", c.rps/b.rps, float64(c.p99)/float64(b.p99))
}

// profile waits for warmup, then saves the service's CPU profile over the
// measured time d, read from its admin listener's /debug/pprof/profile.
func profile(admin string, warmup, d time.Duration, file string) error {
	if admin == "" {
		return errors.New("the service logged no admin address")
	}
	time.Sleep(warmup)
	secs := max(1, int(d/time.Second)-1)
	resp, err := http.Get("http://" + admin + "/debug/pprof/profile?seconds=" + strconv.Itoa(secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int64
}

// median returns the round with the median throughput (the lower middle
// one for an even count) and the median p99 over the rounds.
func median(rs []result) result {
	byRPS := slices.Clone(rs)
	slices.SortFunc(byRPS, func(a, b result) int { return cmp.Compare(a.rps, b.rps) })
	m := byRPS[(len(byRPS)-1)/2]
	p99s := make([]time.Duration, len(rs))
	for i, r := range rs {
		p99s[i] = r.p99
	}
	slices.Sort(p99s)
	m.p99 = p99s[(len(p99s)-1)/2]
	return m
}

// run loads url from conns closed-loop clients for warmup, then measures
// for d.
func run(url string, conns int, warmup, d time.Duration) result {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var measuring atomic.Bool
	var errs atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), warmup+d)
	defer cancel()
	samples := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	time.AfterFunc(warmup, func() { measuring.Store(true) })
	for i := range conns {
		wg.Go(func() {
			buf := make([]byte, 4096)
			for ctx.Err() == nil {
				t0 := time.Now()
				resp, err := client.Get(url)
				if err == nil {
					for {
						if _, rerr := resp.Body.Read(buf); rerr != nil {
							if !errors.Is(rerr, io.EOF) {
								err = rerr
							}
							break
						}
					}
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = errors.New(resp.Status)
					}
				}
				if ctx.Err() != nil {
					return // cut short by the end of the run: not counted
				}
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				if len(samples[i]) < maxSamples/conns {
					samples[i] = append(samples[i], time.Since(t0))
				}
			}
		})
	}
	wg.Wait()
	all := slices.Concat(samples...)
	slices.Sort(all)
	res := result{errors: errs.Load()}
	if len(all) > 0 {
		// Requests completed in the measured window, which ends with ctx
		// (one cut short then is not counted).
		res.rps = float64(len(all)) / d.Seconds()
		res.p50 = all[len(all)*50/100]
		res.p99 = all[len(all)*99/100]
	}
	return res
}

// start runs cmd with env, reads its stderr until addrOf finds the
// listening address in a line, then discards the rest.
func start(cmd *exec.Cmd, addrOf func([]byte) string, env ...string) (*exec.Cmd, string) {
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	found := make(chan string, 1)
	var early bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if addr := addrOf(sc.Bytes()); addr != "" {
				found <- addr
				_, _ = io.Copy(io.Discard, stderr)
				return
			}
			early.Write(sc.Bytes())
			early.WriteByte('\n')
		}
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			log.Fatalf("e2e: %s exited before listening:\n%s", cmd.Path, early.String())
		}
		return cmd, addr
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		log.Fatalf("e2e: %s did not listen within 60s", cmd.Path)
	}
	panic("unreachable")
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// createNote creates the note both sides serve and returns its path.
func createNote(addr string) string {
	body := `{"title":"benchmark","body":"a note of a realistic size, read again and again by the load generator"}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/notes", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var n note
	if err := json.NewDecoder(resp.Body).Decode(&n); err != nil || resp.StatusCode != http.StatusCreated {
		log.Fatalf("e2e: creating the note on %s: %s, %v", addr, resp.Status, err)
	}
	return "/v1/notes/" + strconv.FormatInt(n.ID, 10)
}

// note, store and the handlers are examples/service's notes API (the same
// code for GET, a minimal POST), on a bare mux.
type note struct {
	ID      int64     `json:"id"`
	Title   string    `json:"title"`
	Body    string    `json:"body"`
	Created time.Time `json:"created"`
}

var errNoteNotFound = problem.NotFound("no note with that id")

type store struct {
	mu     sync.RWMutex
	nextID int64
	notes  map[int64]note
}

func (s *store) get(_ context.Context, id int64) (note, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.notes[id]
	if !ok {
		return note{}, errNoteNotFound
	}
	return n, nil
}

func runBare() {
	s := &store{notes: map[int64]note{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/notes/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id < 1 {
			err = problem.BadRequest("id: must be a positive integer").With("field", "id")
		} else {
			var n note
			if n, err = s.get(r.Context(), id); err == nil {
				_ = httpkit.WriteJSON(w, r, http.StatusOK, n)
				return
			}
		}
		problem.Write(w, r, err)
	})
	mux.HandleFunc("POST /v1/notes", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Title, Body string }
		if err := httpkit.DecodeJSON(w, r, &in); err != nil {
			problem.Write(w, r, err)
			return
		}
		s.mu.Lock()
		s.nextID++
		n := note{ID: s.nextID, Title: in.Title, Body: in.Body, Created: time.Now().UTC().Truncate(time.Microsecond)}
		s.notes[n.ID] = n
		s.mu.Unlock()
		_ = httpkit.WriteJSON(w, r, http.StatusCreated, n)
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(os.Stderr, "listening "+lis.Addr().String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		<-sig
		_ = srv.Close()
	}()
	if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
