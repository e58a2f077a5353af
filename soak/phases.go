package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds of the load, fault and leak phases.
const (
	// circuitOpenP99 bounds the latency of a 503 circuit_open answer to a
	// request that arrived while the breaker was open: the service then
	// touches no network, so the answer costs what a cheap request costs.
	// The bound is this, or circuitOpenFactor times the p99 of GET
	// /v1/notes/{id} in the same phase if that is larger, so that a slow
	// machine does not fail it; a service that waited for a downstream
	// timeout (1s) fails it either way.
	circuitOpenP99    = 250 * time.Millisecond
	circuitOpenFactor = 3

	// goroutineSlack is how many goroutines above baseline the service may
	// keep after the load: timers, a health check in flight, a connection
	// the kernel has not reported closed yet.
	goroutineSlack = 10

	// heapSlack bounds the growth of the service's heap in use after the
	// load and faults, compared with the baseline: caches that fill once
	// (the rate limiter's keys of the load clients, about 5,000; metric
	// series; sync.Pools) fit well within it, a per-request leak over the
	// phase's hundreds of thousands of requests does not.
	heapSlack = 32 << 20
)

// baseline is the service's state after setup, before any load.
type baseline struct {
	rt  runtimeStats
	ok  bool // the service has /debug/runtime
	rss uint64
}

// setup creates the digest corpus, warms the service up and measures the
// baseline.
func (s *soak) setup(ctx context.Context) (baseline, error) {
	var b baseline
	rng := rand.New(rand.NewPCG(s.seed, 0xc0))
	vocab := strings.Fields(vocabulary)
	s.corpus = &corpus{want: make(map[int64]analysis)}
	for i := range corpusSize {
		text := words(rng, vocab, 1+i%12)
		id, err := createNote(ctx, s.hc, s.svc.base, fmt.Sprintf("198.18.0.%d", i+1), fmt.Sprintf("corpus %d", i), text)
		if err != nil {
			return b, fmt.Errorf("creating the corpus: %w", err)
		}
		s.corpus.ids = append(s.corpus.ids, id)
		s.corpus.want[id] = analysis{Words: len(strings.Fields(text)), Chars: utf8.RuneCountInString(text)}
	}
	if err := s.svc.setLogLevel(ctx, s.admin, "warn"); err != nil {
		s.logf("cannot lower the log level, staying at info: %v", err)
	} else {
		s.debugf("service log level set to warn for the load")
	}

	// Warm up: every op once or more, digests included.
	warm := runLoad(ctx, loadConfig{
		base: s.svc.base, hc: s.hc, workers: 4, dur: time.Second, mix: s.prof.mix,
		seed: s.seed ^ 0xfeed, corpus: s.corpus, keyBase: 0,
	})
	s.rep.check("setup", "warm-up digests correct", fmt.Sprintf("%d ok, %d wrong", warm.digestOK, warm.digestWrong),
		">= 1 ok, 0 wrong", warm.digestOK > 0 && warm.digestWrong == 0)

	s.quiesce(time.Second)
	rt, err := s.svc.runtime(ctx, s.admin)
	switch {
	case errors.Is(err, errNoRuntime):
		s.logf("the service has no GET /debug/runtime: leak checks fall back to RSS")
	case err != nil:
		return b, err
	default:
		b.rt, b.ok = rt, true
	}
	b.rss, _, err = s.svc.memStatus()
	if err != nil {
		return b, err
	}
	if b.ok {
		s.rep.info("setup", "baseline goroutines / heap in use", fmt.Sprintf("%d / %s", b.rt.Goroutines, fmtMiB(float64(b.rt.HeapInuseBytes))))
	}
	s.rep.info("setup", "baseline RSS", fmtMiB(float64(b.rss)))
	return b, nil
}

// quiesce closes every idle connection on both sides of the service and
// waits for d, so that connection goroutines are gone.
func (s *soak) quiesce(d time.Duration) {
	s.hc.CloseIdleConnections()
	s.admin.CloseIdleConnections()
	s.ds.closeIdle()
	time.Sleep(d)
}

// createNote creates a note as client key and returns its id.
func createNote(ctx context.Context, hc *http.Client, base, key, title, body string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/notes",
		strings.NewReader(fmt.Sprintf(`{"title":%q,"body":%q}`, title, body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", key)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var n struct {
		ID int64 `json:"id"`
	}
	if resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("POST /v1/notes: %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&n); err != nil || n.ID <= 0 {
		return 0, fmt.Errorf("POST /v1/notes: no id in the answer (%v)", err)
	}
	return n.ID, nil
}

// loadPhase runs the mix against a healthy downstream.
func (s *soak) loadPhase(ctx context.Context) error {
	p := s.prof
	s.logf("phase load: %d workers for %s", p.loadWorkers, p.loadDur)
	sched := schedule{start: time.Now()}
	s.ds.setSchedule(sched)
	stopWatch := s.watchBreaker(ctx, "load", sched)
	st := runLoad(ctx, loadConfig{
		base: s.svc.base, hc: s.hc, workers: p.loadWorkers, dur: p.loadDur, maxRequests: p.maxRequests,
		mix: p.mix, seed: s.seed, corpus: s.corpus, keyBase: 1,
	})
	stopWatch()
	s.loadRows("load", st, false)
	return ctx.Err()
}

// loadRows reports what every load run must satisfy; compact leaves out
// the per-op figures.
func (s *soak) loadRows(phase string, st *loadStats, compact bool) {
	n := st.all.count()
	s.rep.info(phase, "requests answered", fmt.Sprintf("%d in %s", n, fmtDur(st.elapsed)))
	s.rep.info(phase, "throughput", fmt.Sprintf("%.0f req/s", float64(n)/st.elapsed.Seconds()))
	s.rep.info(phase, "latency p50 / p99 / max", fmt.Sprintf("%s / %s / %s", fmtDur(st.all.quantile(0.5)), fmtDur(st.all.quantile(0.99)), fmtDur(st.all.max)))
	for o := range numOps {
		if compact {
			break
		}
		ops := &st.ops[o]
		if ops.lat.count() == 0 {
			continue
		}
		s.rep.info(phase, o.String(), fmt.Sprintf("n=%d p50=%s p99=%s; %s", ops.lat.count(),
			fmtDur(ops.lat.quantile(0.5)), fmtDur(ops.lat.quantile(0.99)), fmtStatuses(&ops.status)))
	}
	all := st.statuses()
	non2xx := all.count(func(c int) bool { return !is2xx(c) })
	s.rep.info(phase, "non-2xx by status", fmt.Sprintf("%d (%s)", non2xx, fmtNon2xx(all)))
	s.rep.check(phase, "500 answers", fmt.Sprint(all[500]), "0", all[500] == 0)
	s.rep.check(phase, "answers outside the contract", fmt.Sprint(st.unexpected), "0", st.unexpected == 0)
	s.shedRows(phase, st)
	s.rep.check(phase, "error answers not problem+json", fmt.Sprint(st.notProblem), "0", st.notProblem == 0)
	s.rep.check(phase, "requests failed (no or partial answer)", fmt.Sprint(st.errs+st.truncated), "0", st.errs+st.truncated == 0)
	s.rep.check(phase, "200 digests with wrong content", fmt.Sprintf("%d of %d", st.digestWrong, st.digestOK+st.digestWrong), "0", st.digestWrong == 0)
	for _, e := range st.errSamples {
		s.logf("%s: sample problem: %s", phase, e)
	}
	for _, e := range st.non2xx {
		s.debugf("%s: sample non-2xx answer: %s", phase, e)
	}
}

// maxShedShare bounds the share of the notes requests (every op but the
// digest) that the service's adaptive concurrency limit may shed in a load
// phase. The limit learns from the digest's 503s and 504s too, so a failing
// downstream makes it shed some notes requests (1 to 3% in the short
// profile's fault phase on a loaded two-core machine); a limit that
// collapsed and shed most requests breaks the bound.
const maxShedShare = 0.25

// shedRows reports the requests the service shed (503 "overloaded") and
// bounds the share of notes requests among them.
func (s *soak) shedRows(phase string, st *loadStats) {
	var total, notes, notesShed uint64
	var parts []string
	for o := range numOps {
		n := st.shed[o]
		total += n
		if o != opDigest {
			notes += st.ops[o].lat.count()
			notesShed += n
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s:%d", o, n))
		}
	}
	if total == 0 {
		s.rep.info(phase, "requests shed (503 overloaded)", "0")
	} else {
		s.rep.info(phase, "requests shed (503 overloaded)", fmt.Sprintf("%d (%s)", total, strings.Join(parts, " ")))
	}
	share := float64(notesShed) / max(float64(notes), 1)
	s.rep.check(phase, "notes requests shed (503 overloaded)", fmt.Sprintf("%d of %d (%.2f%%)", notesShed, notes, 100*share),
		fmt.Sprintf("<= %.0f%%", 100*maxShedShare), share <= maxShedShare)
}

// fmtNon2xx prints the non-2xx status counts.
func fmtNon2xx(c *statusCounts) string {
	var only statusCounts
	for code, n := range c {
		if !is2xx(code) {
			only[code] = n
		}
	}
	return fmtStatuses(&only)
}

// faultPhase runs the mix while the downstream cycles through outages,
// flaky spells and throttling.
func (s *soak) faultPhase(ctx context.Context) error {
	p := s.prof
	// The phase ends with an outage, so that the recovery phase starts
	// with the breaker open.
	sched := schedule{start: time.Now(), cycle: p.cycle, cycles: p.faultCycles,
		tail: []segment{{regimeOutage, finalOutage}}}
	dur := sched.length()
	s.logf("phase faults: %d workers for %s (%d cycles of %s, then outage %s)", p.loadWorkers, dur, p.faultCycles, cycleString(p.cycle), finalOutage)
	settle := downstreamTimeout + maxBackoff + 900*time.Millisecond
	s.ds.setSchedule(sched)
	stopWatch := s.watchBreaker(ctx, "faults", sched)
	st := runLoad(ctx, loadConfig{
		base: s.svc.base, hc: s.hc, workers: p.loadWorkers, dur: dur, maxRequests: p.maxRequests,
		mix: p.mix, seed: s.seed + 1, corpus: s.corpus, keyBase: 2, sched: &sched, settle: settle,
	})
	stopWatch()
	s.ds.setSchedule(schedule{start: time.Now()})
	lifetime := time.Since(s.svc.started)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	m, err := s.svc.metrics(ctx, s.admin)
	if err != nil {
		return err
	}
	const phase = "faults"
	s.loadRows(phase, st, false)

	dg := &st.ops[opDigest].status
	other503 := dg[503] - st.circuitOpen.count()
	s.rep.info(phase, "digest answers", fmt.Sprintf("200:%d 503 circuit_open:%d 503 other:%d 504:%d",
		dg[200], st.circuitOpen.count(), other503, dg[504]))

	// The breaker.
	opened, found := m.sum("chassis_call_breaker_transitions_total", "chassis_breaker_state", "open")
	if found {
		s.rep.check(phase, "breaker openings (metric)", fmt.Sprint(opened), ">= 1", opened >= 1)
	} else {
		s.rep.info(phase, "breaker openings (metric)", "metric chassis_call_breaker_transitions_total not found")
	}
	s.rep.check(phase, "503 circuit_open answers", fmt.Sprint(st.circuitOpen.count()), ">= 1", st.circuitOpen.count() >= 1)
	steady := &st.circuitOpenSteady
	getP99 := st.ops[opGet].lat.quantile(0.99)
	coBound := max(circuitOpenP99, circuitOpenFactor*getP99)
	s.rep.check(phase, "circuit_open latency p99 (breaker already open)",
		fmt.Sprintf("%s (n=%d, max %s)", fmtDur(steady.quantile(0.99)), steady.count(), fmtDur(steady.max)),
		fmt.Sprintf("<= max(%s, %d × GET note p99) = %s, n >= 1", fmtDur(circuitOpenP99), circuitOpenFactor, fmtDur(coBound)),
		steady.count() >= 1 && steady.quantile(0.99) <= coBound)
	s.rep.info(phase, "circuit_open latency p99 (all, incl. in flight at the outage)",
		fmt.Sprintf("%s (n=%d)", fmtDur(st.circuitOpen.quantile(0.99)), st.circuitOpen.count()))
	var byReg []string
	for r := range numRegimes {
		if n := st.circuitOpenByReg[r]; n > 0 {
			byReg = append(byReg, fmt.Sprintf("%s:%d", r, n))
		}
	}
	s.rep.info(phase, "circuit_open answers by downstream regime", strings.Join(byReg, " "))

	// The downstream's view.
	counts := s.ds.counts()
	for r := range numRegimes {
		var parts []string
		for o := range numOutcomes {
			if counts[r][o] > 0 {
				parts = append(parts, fmt.Sprintf("%s:%d", o, counts[r][o]))
			}
		}
		if len(parts) > 0 {
			s.rep.info(phase, "downstream saw, "+r.String(), strings.Join(parts, " "))
		}
	}
	var unauthorized uint64
	for r := range numRegimes {
		unauthorized += counts[r][dsUnauthorized]
	}
	s.rep.check(phase, "downstream calls without the bearer token", fmt.Sprint(unauthorized), "0", unauthorized == 0)

	s.budgetRows(phase, m, st, lifetime)
	return nil
}

// breakerOpenTimeout is the service's BreakerPolicy.OpenTimeout.
const breakerOpenTimeout = 5 * time.Second

// finalOutage ends the fault phase: long enough to open the breaker and
// answer circuit_open from an open breaker for a while.
const finalOutage = 3 * time.Second

// recoveryGrace is how long after the breaker's open timeout the soak
// waits before it expects no more circuit_open answers: a half-open probe
// to a healthy downstream takes milliseconds.
const recoveryGrace = 2 * time.Second

// recoveryPhase runs the load against a healed downstream right after the
// fault phase's final outage: the breaker starts open, and once its open
// timeout has passed one probe should close it.
func (s *soak) recoveryPhase(ctx context.Context) error {
	p := s.prof
	const phase = "recovery"
	dur := breakerOpenTimeout + recoveryGrace + p.recoveryTail
	s.logf("phase recovery: %d workers for %s against a healed downstream", p.loadWorkers, dur)
	start := time.Now()
	s.ds.setSchedule(schedule{start: start})
	st := runLoad(ctx, loadConfig{
		base: s.svc.base, hc: s.hc, workers: p.loadWorkers, dur: dur, maxRequests: p.maxRequests,
		mix: p.mix, seed: s.seed + 3, corpus: s.corpus, keyBase: 4,
		lateAfter: start.Add(breakerOpenTimeout + recoveryGrace),
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.loadRows(phase, st, true)
	s.rep.check(phase, "503 circuit_open answers (the breaker starts open)", fmt.Sprint(st.circuitOpen.count()), ">= 1", st.circuitOpen.count() >= 1)
	if !st.circuitOpenLast.IsZero() {
		// The breaker opened during the final outage, at most finalOutage
		// before the healing, so its open timeout ended by then + (open
		// timeout - final outage).
		s.rep.info(phase, "last circuit_open answer, sent after the healing",
			fmt.Sprintf("+%s (open timeout over by +%s)", fmtDur(st.circuitOpenLast.Sub(start)), fmtDur(breakerOpenTimeout-finalOutage)))
	}
	s.rep.check(phase, "circuit_open answers after open timeout + "+recoveryGrace.String(),
		fmt.Sprintf("%d of %d digests", st.circuitOpenLate, st.ops[opDigest].lat.count()), "0", st.circuitOpenLate == 0)
	s.debugBreaker(ctx, "after recovery")
	return nil
}

// budgetRows checks the service's retries against its retry budget.
//
// Logical calls (what the budget counts as requests) are first attempts,
// told apart from retries by the downstream (one trace per digest, one
// Idempotency-Key per note), plus calls the breaker rejected before any
// attempt (the breaker-rejections metric, which also counts rejected
// retries, so this errs high). Retries are the service's own retry counter
// when exported, else the retries the downstream saw.
func (s *soak) budgetRows(phase string, m promSamples, st *loadStats, lifetime time.Duration) {
	first, retriesSeen := s.ds.attempts.totals()
	var firstAll, retriesAll uint64
	for r := range numRegimes {
		firstAll += first[r]
		retriesAll += retriesSeen[r]
	}
	attempts := s.ds.requests.Load()
	untraced := s.ds.untraced.Load()
	digestCalls := st.ops[opDigest].lat.count()
	s.rep.info(phase, "downstream attempts; digests × notes", fmt.Sprintf("%d; %d × %d = %d", attempts, digestCalls, corpusSize, digestCalls*corpusSize))
	if untraced > 0 && firstAll == 0 {
		s.rep.check(phase, "retries identifiable (traceparent on downstream calls)", fmt.Sprintf("%d of %d untraced", untraced, attempts), "all traced", false)
		return
	}
	rejected, _ := m.sum("chassis_call_breaker_rejections_total")
	retries := float64(retriesAll)
	source := "seen by the downstream"
	if v, ok := m.sum("chassis_call_retries_total"); ok {
		retries, source = v, "service metric"
		s.rep.info(phase, "retries seen by the downstream; counted by the service", fmt.Sprintf("%d; %.0f", retriesAll, v))
		if extra := float64(retriesAll) - v; extra > 0 {
			// net/http resends a request with an Idempotency-Key by
			// itself when a reused connection fails before the answer;
			// the call package does not see those.
			s.rep.info(phase, "resent by net/http below the retry budget", fmt.Sprintf("%.0f", extra))
		}
	}
	exhausted, exFound := m.sum("chassis_call_retry_budget_exhausted_total")
	calls := float64(firstAll) + rejected
	bound := retryBound(serviceBudget(), uint64(calls), lifetime)
	b := serviceBudget()
	s.rep.info(phase, "logical calls (first attempts + breaker rejections)", fmt.Sprintf("%d + %.0f = %.0f", firstAll, rejected, calls))
	s.rep.check(phase, "retries ("+source+")",
		fmt.Sprintf("%.0f (%.3f per call)", retries, retries/max(calls, 1)),
		fmt.Sprintf("<= 2×%.1f×calls + %.0f/s×%s×%.0f windows = %.0f", b.Ratio, b.MinPerSecond, b.Window, windows(lifetime, b.Window), bound),
		retries <= bound)
	amp := float64(attempts) / max(calls, 1)
	s.rep.check(phase, "downstream attempts per logical call",
		fmt.Sprintf("%.3f", amp), fmt.Sprintf("<= 1 + %.3f (budget)", bound/max(calls, 1)),
		float64(attempts) <= calls+bound)
	if exFound {
		s.rep.check(phase, "retry budget exhaustions (metric)", fmt.Sprint(exhausted), ">= 1 (throttling needs it)", exhausted >= 1)
	}
	if first[regimeThrottle] > 0 {
		s.rep.info(phase, "retries per first attempt while throttled (429 at 60%)",
			fmt.Sprintf("%.3f (%.2f without a budget)", float64(retriesSeen[regimeThrottle])/float64(first[regimeThrottle]), throttle429+throttle429*throttle429))
	}
}

// windows is how many budget windows of w a lifetime d touches at most
// (as in retryBound).
func windows(d, w time.Duration) float64 {
	return math.Ceil(d.Seconds()/w.Seconds()) + 1
}

// leakPhase checks that goroutines and heap come back near the baseline
// once the load has stopped and connections are closed.
func (s *soak) leakPhase(ctx context.Context, b baseline) error {
	s.logf("phase leaks: settle and compare with the baseline")
	const phase = "leaks"
	s.quiesce(500 * time.Millisecond)
	rss, _, err := s.svc.memStatus()
	if err != nil {
		return err
	}
	if !b.ok {
		s.rep.info(phase, "goroutines and heap", "not measured: no GET /debug/runtime")
		s.rep.info(phase, "RSS after load", fmt.Sprintf("%s (baseline %s)", fmtMiB(float64(rss)), fmtMiB(float64(b.rss))))
		return nil
	}
	var rt runtimeStats
	deadline := time.Now().Add(10 * time.Second)
	for {
		rt, err = s.svc.runtime(ctx, s.admin)
		if err != nil {
			return err
		}
		if rt.Goroutines <= b.rt.Goroutines+goroutineSlack || time.Now().After(deadline) {
			break
		}
		s.quiesce(250 * time.Millisecond)
	}
	s.rep.check(phase, "goroutines after load", fmt.Sprintf("%d (baseline %d)", rt.Goroutines, b.rt.Goroutines),
		fmt.Sprintf("<= baseline + %d", goroutineSlack), rt.Goroutines <= b.rt.Goroutines+goroutineSlack)
	s.rep.check(phase, "heap in use after load", fmt.Sprintf("%s (baseline %s)", fmtMiB(float64(rt.HeapInuseBytes)), fmtMiB(float64(b.rt.HeapInuseBytes))),
		"<= baseline + "+fmtMiB(heapSlack), growthOK(float64(b.rt.HeapInuseBytes), float64(rt.HeapInuseBytes), heapSlack))
	s.rep.info(phase, "RSS after load", fmt.Sprintf("%s (baseline %s)", fmtMiB(float64(rss)), fmtMiB(float64(b.rss))))
	return nil
}

// logPhase reports what the service logged.
func (s *soak) logPhase() {
	lines, byLevel, panics, _ := s.svc.logs.snapshot()
	s.rep.info("logs", "service log lines by level", fmt.Sprintf("%d (%s)", lines, fmtLevels(byLevel)))
	s.rep.check("logs", "panics logged", fmt.Sprint(panics), "0", panics == 0)
}

// fmtLevels prints log line counts by level, "ERROR:3 INFO:12".
func fmtLevels(byLevel map[string]uint64) string {
	levels := make([]string, 0, len(byLevel))
	for l, n := range byLevel {
		levels = append(levels, fmt.Sprintf("%s:%d", l, n))
	}
	sort.Strings(levels)
	return strings.Join(levels, " ")
}

func cycleString(c []segment) string {
	parts := make([]string, len(c))
	for i, seg := range c {
		parts[i] = fmt.Sprintf("%s %s", seg.regime, seg.dur)
	}
	return strings.Join(parts, ", ")
}

// debugBreaker prints, with -v, the service's breaker counters.
func (s *soak) debugBreaker(ctx context.Context, label string) {
	if !s.verbose {
		return
	}
	m, err := s.svc.metrics(ctx, s.admin)
	if err != nil {
		s.logf("%s: metrics: %v", label, err)
		return
	}
	open, _ := m.sum("chassis_call_breaker_transitions_total", "chassis_breaker_state", "open")
	half, _ := m.sum("chassis_call_breaker_transitions_total", "chassis_breaker_state", "half_open")
	closed, _ := m.sum("chassis_call_breaker_transitions_total", "chassis_breaker_state", "closed")
	rej, _ := m.sum("chassis_call_breaker_rejections_total")
	s.logf("%s: breaker transitions open=%.0f half_open=%.0f closed=%.0f, rejections=%.0f", label, open, half, closed, rej)
}

// watchBreaker prints, with -v, every change of the service's breaker
// counters during a phase, with the downstream's regime. The returned
// function stops it.
func (s *soak) watchBreaker(ctx context.Context, phase string, sched schedule) (stop func()) {
	if !s.verbose {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var last [3]float64
		for ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			m, err := s.svc.metrics(ctx, s.admin)
			if err != nil {
				continue
			}
			var cur [3]float64
			for i, st := range []string{"open", "half_open", "closed"} {
				cur[i], _ = m.sum("chassis_call_breaker_transitions_total", "chassis_breaker_state", st)
			}
			if cur != last {
				now := time.Now()
				r, segStart := sched.at(now)
				s.logf("%s +%s (%s +%s): breaker transitions open=%.0f half_open=%.0f closed=%.0f",
					phase, fmtDur(now.Sub(sched.start)), r, fmtDur(now.Sub(segStart)), cur[0], cur[1], cur[2])
				last = cur
			}
		}
	}()
	return func() { cancel(); <-done }
}
