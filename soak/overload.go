package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const overloadPhaseName = "overload"

// The overload phase's resource: /debug/work holds one of workSlots slots
// for workTime, so the service has a fixed, known capacity (like a
// database pool): workSlots / workTime requests per second at most.
const (
	workSlots = 16
	workTime  = 20 * time.Millisecond
	// overloadSLO is the latency within which an answer counts as goodput.
	overloadSLO = 250 * time.Millisecond
	// overloadClientTimeout is how long a client waits for any answer.
	overloadClientTimeout = time.Second
)

// overloadServiceEnv configures the phase's own service instance: the
// per-client rate limit is out of the way, so that only the adaptive
// concurrency limit (guard.Shed) protects it.
func overloadServiceEnv() []string {
	return []string{
		"HTTP_ADDR=127.0.0.1:0",
		"ADMIN_ADDR=127.0.0.1:0",
		"GRPC_ADDR=127.0.0.1:0",
		"LOG_LEVEL=info", // for the "listening" line; the load runs at warn
		"RATE_LIMIT=1000000",
		"RATE_LIMIT_PER=1s",
		"DRAIN_DELAY=0s",
		"SHUTDOWN_TIMEOUT=3s",
		"DEBUG_ENDPOINTS=true",
		"WORK_SLOTS=" + strconv.Itoa(workSlots),
		"OTEL_TRACES_EXPORTER=none",
	}
}

// overloadPhase drives a dedicated service instance past its capacity: it
// measures the capacity (closed loop), the unloaded latency (open loop at
// half of it), then offers three times the capacity (open loop: arrivals
// never wait for answers, as real clients do not) while probing /readyz,
// then drops back to half and measures how soon shedding stops.
func (s *soak) overloadPhase(ctx context.Context) error {
	p := s.prof
	s.logf("phase overload: capacity for %v, half of it for %v, three times it for %v, then half for %v",
		p.overloadCapDur, p.overloadHalfDur, p.overloadDur, p.overloadRecoverDur)
	svc, err := startService(ctx, s.bin, overloadServiceEnv())
	if err != nil {
		return fmt.Errorf("starting the overload phase's service: %w", err)
	}
	defer svc.kill()
	if err := svc.setLogLevel(ctx, s.admin, "warn"); err != nil {
		s.logf("overload: cannot lower the log level, staying at info: %v", err)
	}
	hc := newClient(1024, true)
	defer hc.CloseIdleConnections()
	url := svc.base + "/debug/work?d=" + workTime.String()

	capRPS := closedLoop(ctx, hc, url, 4*workSlots, p.overloadCapDur)
	if capRPS <= 0 {
		return fmt.Errorf("overload: no request succeeded while measuring capacity")
	}
	s.rep.info(overloadPhaseName, "capacity (closed loop, 64 clients)",
		fmt.Sprintf("%.0f req/s (resource bound %d/%v = %.0f req/s)", capRPS, workSlots, workTime, float64(workSlots)/workTime.Seconds()))

	half := openLoop(ctx, hc, url, capRPS/2, p.overloadHalfDur)
	unloadedP99 := half.admitted.quantile(0.99)
	s.rep.info(overloadPhaseName, "at 0.5×: admitted p99, statuses", fmt.Sprintf("%s; %s", fmtDur(unloadedP99), half.statuses()))

	probes := probeEvery(ctx, s.admin, svc.base+"/readyz", 100*time.Millisecond)
	over := openLoop(ctx, hc, url, 3*capRPS, p.overloadDur)
	probeFails, probeCount := probes()

	goodput := float64(over.good.Load()) / p.overloadDur.Seconds()
	share := goodput / capRPS
	s.rep.check(overloadPhaseName, "goodput at 3× (200 within "+fmtDur(overloadSLO)+")",
		fmt.Sprintf("%.0f req/s = %.0f%% of capacity; %s", goodput, 100*share, over.statuses()),
		">= 80% of capacity", share >= 0.8)
	// The admitted work must stay within the SLO that defines goodput: the
	// limiter queues a little (its target is about 1.5× the unloaded
	// latency), never the unbounded queueing of an unprotected server.
	p99 := over.admitted.quantile(0.99)
	s.rep.check(overloadPhaseName, "admitted p99 at 3×", fmt.Sprintf("%s (p50 %s; %.1f× the p99 at 0.5×)",
		fmtDur(p99), fmtDur(over.admitted.quantile(0.5)), float64(p99)/float64(max(unloadedP99, 1))),
		"<= the SLO, "+fmtDur(overloadSLO), p99 <= overloadSLO)
	s.rep.check(overloadPhaseName, "answers other than 200, or 503 with Retry-After", fmt.Sprint(over.other.Load()+half.other.Load()),
		"0", over.other.Load()+half.other.Load() == 0)
	s.rep.check(overloadPhaseName, "/readyz probes failed during the overload", fmt.Sprintf("%d of %d", probeFails, probeCount),
		"0", probeFails == 0 && probeCount > 0)

	rec := openLoop(ctx, hc, url, capRPS/2, p.overloadRecoverDur)
	var after time.Duration
	if last := rec.last503.Load(); last != 0 {
		after = time.Duration(last - rec.start.UnixNano())
	}
	s.rep.check(overloadPhaseName, "503s after the load dropped to 0.5×", fmt.Sprintf("last at %s; %s", fmtDur(after), rec.statuses()),
		"none after 5s", after <= 5*time.Second)
	return ctx.Err()
}

// closedLoop runs workers clients that send GET url one after another for
// d and returns the rate of 200s.
func closedLoop(ctx context.Context, hc *http.Client, url string, workers int, d time.Duration) float64 {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var ok atomic.Uint64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if status, _, _ := overloadGet(ctx, hc, url); status == http.StatusOK {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(ok.Load()) / time.Since(start).Seconds()
}

// openStats is what one open-loop run saw.
type openStats struct {
	start    time.Time
	mu       sync.Mutex
	admitted hist // latency of the 200s
	codes    map[int]uint64
	good     atomic.Uint64 // 200s within overloadSLO
	other    atomic.Uint64 // anything but 200, or 503 with Retry-After
	last503  atomic.Int64  // UnixNano of the last 503 received
}

func (o *openStats) statuses() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var c statusCounts
	for code, n := range o.codes {
		if code < 1 || code >= len(c) {
			code = 0
		}
		c[code] += n
	}
	return fmtStatuses(&c)
}

// openLoop sends GET url at rate per second for d, one goroutine per
// request so that arrivals never wait for answers, each bounded by
// overloadClientTimeout, and returns when every request has ended.
func openLoop(ctx context.Context, hc *http.Client, url string, rate float64, d time.Duration) *openStats {
	st := &openStats{start: time.Now(), codes: map[int]uint64{}}
	every := time.Duration(float64(time.Second) / rate)
	var wg sync.WaitGroup
	for i := 0; ctx.Err() == nil; i++ {
		at := st.start.Add(time.Duration(i) * every)
		if at.Sub(st.start) >= d {
			break
		}
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait) // pacing the arrivals, not waiting for a result
		}
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, overloadClientTimeout)
			defer cancel()
			t0 := time.Now()
			status, retryAfter, err := overloadGet(rctx, hc, url)
			lat := time.Since(t0)
			st.mu.Lock()
			if err == nil {
				st.codes[status]++
				if status == http.StatusOK {
					st.admitted.record(lat)
				}
			} else {
				st.codes[0]++
			}
			st.mu.Unlock()
			switch {
			case err == nil && status == http.StatusOK:
				if lat <= overloadSLO {
					st.good.Add(1)
				}
			case err == nil && status == http.StatusServiceUnavailable && retryAfter:
				st.last503.Store(time.Now().UnixNano())
			default:
				st.other.Add(1)
			}
		})
	}
	wg.Wait()
	return st
}

// overloadGet sends one GET and reports its status and whether it carried
// Retry-After; the body is drained so the connection is reused.
func overloadGet(ctx context.Context, hc *http.Client, url string) (int, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, false, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After") != "", nil
}

// probeEvery GETs url every interval until the returned function is
// called, which reports how many probes failed (error or not 200) of how
// many were sent.
func probeEvery(ctx context.Context, hc *http.Client, url string, interval time.Duration) func() (failed, sent uint64) {
	ctx, cancel := context.WithCancel(ctx)
	var failedN, sentN atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			sentN.Add(1)
			pctx, pcancel := context.WithTimeout(ctx, overloadClientTimeout)
			status, _, err := overloadGet(pctx, hc, url)
			pcancel()
			if ctx.Err() != nil {
				sentN.Add(^uint64(0)) // cut short by the end of the phase: not a probe
				return
			}
			if err != nil || status != http.StatusOK {
				failedN.Add(1)
			}
		}
	}()
	return func() (uint64, uint64) {
		cancel()
		<-done
		return failedN.Load(), sentN.Load()
	}
}
