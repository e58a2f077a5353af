// Command soak drives the reference service (examples/service) the way
// production would, on loopback only, and checks that it stays within its
// contract: sustained load, a failing downstream, abusive clients, and
// SIGTERM under load. It builds the service, runs it, prints a summary
// table (phase, metric, value, bound, PASS/FAIL) and exits non-zero when a
// bound is broken.
//
//	cd soak && go run . -profile short   # about 1.5 minutes with the build; CI runs it
//	cd soak && go run . -profile long    # about 10 minutes, for manual runs
//
// Flags:
//
//	-profile short|long   how long and how hard (default short)
//	-seed n               seed of the fault injection and the load mix (default 1)
//	-v                    progress and error samples on stderr
//	-grpc-only            only the gRPC phase (about 10 s in the short profile)
//	-overload-only        only the overload phase (about 25 s in the short profile)
//
// # Phases
//
// Load: closed-loop workers mix POST, GET, list and DELETE of notes with
// GET /v1/digest (50 downstream calls each) against a healthy downstream.
//
// Faults: the same load while the downstream (a server inside the soak)
// cycles through an outage (every call fails fast: the breaker must open
// and the service answer fast 503 circuit_open problems), flaky spells (503s,
// connection resets, latency spikes past the per-attempt timeout) and
// throttling (429 with Retry-After: 0, retryable but not a breaker failure,
// so only the retry budget stops a retry storm). No 500 may come back, and
// retries must stay within the budget's arithmetic bound. Load shedding
// (503 "the server is overloaded", the service's adaptive concurrency
// limit) is a documented answer of every route: it is counted per route,
// and at most a quarter of the notes requests of a load phase may get it.
//
// Recovery: the same load against a healed downstream: once the breaker's
// open timeout has passed, a probe must close it and circuit_open answers
// stop.
//
// Leaks: after the load stops and connections close, the service's
// goroutines and heap return near their baseline.
//
// Abuse: a flood of requests from many distinct client keys (250,000 in the
// long profile, more than the limiter's 100,000-key bound; 100,000 in the
// short one, or as many as fit in 20 seconds, at least 20,000) next to one
// hot key: the service's memory stays bounded, the hot key gets no more
// than its limit and a few well-behaved clients get every request through.
//
// gRPC: on a second instance of the service (its own RATE_LIMIT, drain
// and shutdown timeout), a raw HTTP/2 client opens far more half-open
// streams on one connection than the server advertises (the excess must be
// refused, goroutines and memory stay bounded), then sends a burst of
// HEADERS + RST_STREAM pairs (rapid reset) while a legitimate gRPC client
// from another loopback address (127.0.0.2, its own rate-limit key)
// measures its throughput and p99; every reset stream must be charged by
// the rate limiter. Last, SIGTERM while a connection that never sent its
// preface and a Watch with a zero flow-control window are open: the
// process must exit within DRAIN_DELAY + SHUTDOWN_TIMEOUT + 2s, with the
// exit code of a forced stop (1).
//
// Shutdown: SIGTERM while the load runs and slow streaming requests are in
// flight: readiness turns 503, every request that was answered or sent
// before SIGTERM completes, and the process exits 0 in time.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// Service configuration used by every profile. The bounds below derive
// from these values.
const (
	rateLimit         = 100
	ratePer           = time.Second
	rateBurst         = 20
	requestTimeoutSvc = 5 * time.Second
	downstreamTimeout = time.Second
	fanOut            = 8
	drainDelay        = 2 * time.Second
	shutdownTimeout   = 10 * time.Second

	// maxBackoff is the service's longest wait between retries
	// (RetryPolicy{BaseDelay: 50ms}, 3 attempts: at most 100ms).
	maxBackoff = 100 * time.Millisecond

	// corpusSize is how many notes every digest covers: the service
	// digests the 50 lowest ids.
	corpusSize = 50
)

// serviceBudget is the service's retry budget: call.RetryBudget{}'s
// defaults.
func serviceBudget() budgetPolicy {
	return budgetPolicy{Ratio: 0.2, MinPerSecond: 10, Window: 10 * time.Second}
}

// profile is how long and how hard the soak runs.
type profile struct {
	name string

	loadWorkers int
	loadDur     time.Duration
	maxRequests uint64 // per load run
	mix         [numOps]int

	faultCycles  int
	cycle        []segment
	recoveryTail time.Duration // load after the breaker should have closed

	floodKeys    int           // distinct client keys of the flood
	floodMinKeys int           // fewer than this within floodCap fails
	floodCap     time.Duration // the flood stops here even if short of floodKeys
	floodWorkers int
	hotWorkers   int
	wellBehaved  int

	shutdownWorkers int
	sleepers        int
	sleepFor        time.Duration

	grpcStreams  int           // half-open streams on one connection
	grpcResets   int           // HEADERS + RST_STREAM pairs of the burst
	grpcResetCap time.Duration // the burst stops here even if short of grpcResets
	grpcLegitDur time.Duration // the legitimate client's run before the burst
	grpcDrain    time.Duration // DRAIN_DELAY of the gRPC phase's instance
	grpcShutdown time.Duration // SHUTDOWN_TIMEOUT of the gRPC phase's instance

	overloadCapDur     time.Duration // measuring capacity, closed loop
	overloadHalfDur    time.Duration // at half the capacity, for the unloaded p99
	overloadDur        time.Duration // at three times the capacity
	overloadRecoverDur time.Duration // back at half, for the recovery

	deadline time.Duration // whole run after the build: a safety net
	grpcOnly bool          // run only the gRPC phase (-grpc-only)
	overOnly bool          // run only the overload phase (-overload-only)
}

func profiles(name string) (profile, bool) {
	p := profile{
		name:            name,
		mix:             [numOps]int{opCreate: 20, opGet: 45, opList: 10, opDelete: 15, opDigest: 10},
		cycle:           []segment{{regimeOutage, 5 * time.Second}, {regimeFlaky, 4 * time.Second}, {regimeThrottle, 4 * time.Second}},
		hotWorkers:      4,
		wellBehaved:     10,
		shutdownWorkers: 8,
		sleepers:        20,
		sleepFor:        4 * time.Second,
	}
	switch name {
	case "short":
		p.loadWorkers, p.loadDur, p.maxRequests = 16, 10*time.Second, 2_000_000
		p.faultCycles, p.recoveryTail = 2, 2*time.Second
		p.floodKeys, p.floodMinKeys, p.floodCap, p.floodWorkers = 100_000, 20_000, 20*time.Second, 32
		p.grpcStreams, p.grpcResets, p.grpcResetCap, p.grpcLegitDur = 10_000, 20_000, 10*time.Second, 2*time.Second
		p.grpcDrain, p.grpcShutdown = time.Second, 3*time.Second
		p.overloadCapDur, p.overloadHalfDur, p.overloadDur, p.overloadRecoverDur = 3*time.Second, 3*time.Second, 10*time.Second, 6*time.Second
		p.deadline = 4 * time.Minute
	case "long":
		p.loadWorkers, p.loadDur, p.maxRequests = 32, 2*time.Minute, 50_000_000
		p.faultCycles, p.recoveryTail = 23, 20*time.Second // 5 minutes of faults
		p.floodKeys, p.floodMinKeys, p.floodCap, p.floodWorkers = 250_000, 100_000, 3*time.Minute, 32
		p.grpcStreams, p.grpcResets, p.grpcResetCap, p.grpcLegitDur = 100_000, 200_000, time.Minute, 5*time.Second
		p.grpcDrain, p.grpcShutdown = drainDelay, shutdownTimeout
		p.overloadCapDur, p.overloadHalfDur, p.overloadDur, p.overloadRecoverDur = 10*time.Second, 10*time.Second, time.Minute, 10*time.Second
		p.deadline = 22 * time.Minute
	default:
		return p, false
	}
	return p, true
}

func main() {
	profileName := flag.String("profile", "short", "short (CI, ~1.5 min) or long (~10 min)")
	seed := flag.Uint64("seed", 1, "seed of the fault injection and the load mix")
	verbose := flag.Bool("v", false, "progress details and error samples on stderr")
	onlyGRPC := flag.Bool("grpc-only", false, "run only the gRPC phase (it has its own service instance)")
	onlyOverload := flag.Bool("overload-only", false, "run only the overload phase (it has its own service instance)")
	flag.Parse()
	prof, ok := profiles(*profileName)
	if !ok || flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "soak: unknown profile %q or extra arguments; use -profile short|long\n", *profileName)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	prof.grpcOnly = *onlyGRPC
	prof.overOnly = *onlyOverload
	code := run(ctx, prof, *seed, *verbose, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// soak holds what the phases share.
type soak struct {
	prof    profile
	seed    uint64
	verbose bool
	stderr  io.Writer
	rep     *report

	bin    string // the service binary
	svc    *proc
	gsvc   *proc // the gRPC phase's own instance
	ds     *downstream
	hc     *http.Client // load
	admin  *http.Client // bookkeeping: runtime, metrics, log level
	corpus *corpus
}

func (s *soak) logf(format string, args ...any) {
	fmt.Fprintf(s.stderr, "soak: "+format+"\n", args...)
}

func (s *soak) debugf(format string, args ...any) {
	if s.verbose {
		s.logf(format, args...)
	}
}

// run runs every phase and prints the summary; it returns the exit code:
// 0 if every bound held, 1 if one broke, 2 if the soak could not run.
func run(ctx context.Context, prof profile, seed uint64, verbose bool, stdout, stderr io.Writer) int {
	start := time.Now()
	s := &soak{prof: prof, seed: seed, verbose: verbose, stderr: stderr, rep: &report{}}
	s.logf("profile %s, seed %d", prof.name, seed)

	setupErr := s.runPhases(ctx)
	if s.svc != nil {
		s.svc.kill()
	}
	if s.gsvc != nil {
		s.gsvc.kill()
	}
	if s.ds != nil {
		s.ds.close()
	}
	s.rep.info("total", "wall time (build included)", fmtDur(time.Since(start)))
	fmt.Fprintln(stdout)
	_ = s.rep.write(stdout)
	if setupErr != nil {
		fmt.Fprintf(stderr, "soak: could not complete: %v\n", setupErr)
		if s.svc != nil {
			fmt.Fprintf(stderr, "soak: last service log lines:\n%s\n", s.svc.logs.tail(20))
		}
		if s.gsvc != nil {
			fmt.Fprintf(stderr, "soak: last log lines of the gRPC phase's service:\n%s\n", s.gsvc.logs.tail(20))
		}
		return 2
	}
	if len(s.rep.failures()) > 0 {
		if s.svc != nil {
			fmt.Fprintf(stderr, "soak: last service log lines:\n%s\n", s.svc.logs.tail(20))
		}
		if s.gsvc != nil {
			fmt.Fprintf(stderr, "soak: last log lines of the gRPC phase's service:\n%s\n", s.gsvc.logs.tail(20))
		}
		return 1
	}
	return 0
}

// runPhases builds and starts the service and runs each phase. An error
// means the soak itself could not go on (the report holds what was
// measured so far).
func (s *soak) runPhases(ctx context.Context) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "chassis-soak")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	s.logf("building ./examples/service")
	t := time.Now()
	bctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	bin, err := buildService(bctx, root, dir)
	cancel()
	if err != nil {
		return err
	}
	s.bin = bin
	s.rep.info("build", "go build ./examples/service", fmtDur(time.Since(t)))

	ctx, cancel = context.WithTimeout(ctx, s.prof.deadline)
	defer cancel()

	if s.prof.overOnly {
		s.admin = newClient(4, true)
		defer s.admin.CloseIdleConnections()
		return s.overloadPhase(ctx)
	}
	if s.prof.grpcOnly {
		s.admin = newClient(4, true)
		defer s.admin.CloseIdleConnections()
		return s.grpcPhase(ctx)
	}
	token := randomToken()
	if s.ds, err = newDownstream(token, s.seed); err != nil {
		return err
	}
	s.svc, err = startService(ctx, bin, serviceEnv(s.ds.url(), token))
	if err != nil {
		return err
	}
	s.hc = newClient(256, true)
	defer s.hc.CloseIdleConnections()
	s.admin = newClient(4, true)
	defer s.admin.CloseIdleConnections()
	s.logf("service pid %d on %s, downstream %s", s.svc.pid(), s.svc.httpAddr, s.ds.url())

	baseline, err := s.setup(ctx)
	if err != nil {
		return err
	}
	if err := s.loadPhase(ctx); err != nil {
		return err
	}
	if err := s.faultPhase(ctx); err != nil {
		return err
	}
	s.debugBreaker(ctx, "after faults")
	if err := s.recoveryPhase(ctx); err != nil {
		return err
	}
	if err := s.leakPhase(ctx, baseline); err != nil {
		return err
	}
	s.debugBreaker(ctx, "after leaks")
	if err := s.abusePhase(ctx); err != nil {
		return err
	}
	s.debugBreaker(ctx, "after abuse")
	if err := s.grpcPhase(ctx); err != nil {
		return err
	}
	if err := s.overloadPhase(ctx); err != nil {
		return err
	}
	if err := s.shutdownPhase(ctx); err != nil {
		return err
	}
	s.logPhase()
	return ctx.Err()
}

// serviceEnv is the service's configuration for the soak.
func serviceEnv(downstreamURL, token string) []string {
	return []string{
		"HTTP_ADDR=127.0.0.1:0",
		"ADMIN_ADDR=127.0.0.1:0",
		"GRPC_ADDR=127.0.0.1:0",
		"LOG_LEVEL=info",
		"RATE_LIMIT=" + strconv.Itoa(rateLimit),
		"RATE_LIMIT_PER=" + ratePer.String(),
		"RATE_LIMIT_BURST=" + strconv.Itoa(rateBurst),
		"TRUSTED_PROXIES=127.0.0.1/32",
		"MAX_BODY_BYTES=65536",
		"REQUEST_TIMEOUT=" + requestTimeoutSvc.String(),
		"DOWNSTREAM_URL=" + downstreamURL,
		"DOWNSTREAM_TIMEOUT=" + downstreamTimeout.String(),
		"DOWNSTREAM_TOKEN=" + token,
		"FAN_OUT=" + strconv.Itoa(fanOut),
		"DRAIN_DELAY=" + drainDelay.String(),
		"SHUTDOWN_TIMEOUT=" + shutdownTimeout.String(),
		"DEBUG_ENDPOINTS=true",
		"OTEL_TRACES_EXPORTER=none",
	}
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newClient returns an HTTP client for loopback: no proxy, keep-alive
// with up to idle idle connections.
func newClient(idle int, keepAlive bool) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		DisableKeepAlives:   !keepAlive,
	}}
}
