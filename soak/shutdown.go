package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// exitSlack is added to DRAIN_DELAY + SHUTDOWN_TIMEOUT for the process to
// flush telemetry and exit after its servers have stopped.
const exitSlack = 5 * time.Second

// sleepResult is one streaming /debug/sleep request in flight at SIGTERM.
type sleepResult struct {
	status int
	body   string
	err    error
}

// shutdownPhase sends SIGTERM while the load runs and streaming requests
// are in flight, and checks the drain.
func (s *soak) shutdownPhase(ctx context.Context) error {
	p := s.prof
	const phase = "shutdown"
	s.logf("phase shutdown: SIGTERM under load (%d workers) with %d streaming requests of %s in flight",
		p.shutdownWorkers, p.sleepers, p.sleepFor)
	if err := s.svc.setLogLevel(ctx, s.admin, "info"); err != nil {
		s.logf("cannot restore the info log level: %v", err)
	}
	s.ds.setSchedule(schedule{start: time.Now()})

	// The load, in shutdown mode.
	var sigAt atomic.Int64
	loadDone := make(chan *loadStats, 1)
	go func() {
		loadDone <- runLoad(ctx, loadConfig{
			base: s.svc.base, hc: s.hc, workers: p.shutdownWorkers, dur: time.Minute, maxRequests: p.maxRequests,
			mix: p.mix, seed: s.seed + 2, corpus: s.corpus, keyBase: 3, sigterm: &sigAt,
		})
	}()

	// Streaming requests: the status line comes at once, the body when
	// the sleep ends.
	sleepHC := newClient(p.sleepers, true)
	defer sleepHC.CloseIdleConnections()
	started := make(chan struct{}, p.sleepers)
	results := make([]sleepResult, p.sleepers)
	var sleepers sync.WaitGroup
	url := fmt.Sprintf("%s/debug/sleep?d=%s&stream=1", s.svc.base, p.sleepFor)
	for i := range p.sleepers {
		sleepers.Go(func() {
			results[i] = streamSleep(ctx, sleepHC, url, fmt.Sprintf("203.0.113.%d", i+1), started)
		})
	}
	for range p.sleepers {
		select {
		case <-started:
		case <-time.After(15 * time.Second):
			return fmt.Errorf("the streaming requests did not all get a status line within 15s")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	time.Sleep(500 * time.Millisecond) // the load runs a little with the streams in flight
	s.debugBreaker(ctx, "before SIGTERM")

	sig := time.Now()
	sigAt.Store(sig.UnixNano())
	if err := s.svc.sigterm(); err != nil {
		return err
	}
	ready := watchReadiness(ctx, s.svc)

	exitBound := drainDelay + shutdownTimeout
	exited := s.svc.wait(exitBound + exitSlack)
	exitAfter := time.Since(sig)
	if exited {
		exitAfter = s.svc.exitedAt.Sub(sig)
	} else {
		s.svc.kill()
	}
	st := <-loadDone
	sleepers.Wait()
	r := <-ready

	// Readiness.
	if r.seen {
		s.rep.check(phase, "/readyz 503 during the drain", fmt.Sprintf("seen %s after SIGTERM", fmtDur(r.at.Sub(sig))), "seen", true)
	} else {
		s.rep.check(phase, "/readyz 503 during the drain", "never seen: "+r.last, "seen", false)
	}
	// In-flight streams.
	want := fmt.Sprintf("{\"slept\":%q}\n", p.sleepFor.String())
	complete := 0
	for _, res := range results {
		if res.err == nil && res.status == http.StatusOK && res.body == want {
			complete++
		} else if res.err != nil {
			s.logf("shutdown: stream: %v (status %d, body %q)", res.err, res.status, res.body)
		} else {
			s.logf("shutdown: stream: status %d, body %q; want 200 %q", res.status, res.body, want)
		}
	}
	s.rep.check(phase, "streams in flight at SIGTERM completed", fmt.Sprintf("%d of %d", complete, p.sleepers), "all", complete == p.sleepers)

	// The load.
	all := st.statuses()
	failed := st.errs + st.truncated + all[500]
	s.rep.info(phase, "load requests answered", fmt.Sprintf("%d (%s)", st.all.count(), fmtStatuses(all)))
	s.rep.check(phase, "load requests failed in flight", fmt.Sprintf("%d (no answer %d, cut short %d, 500 %d)", failed, st.errs, st.truncated, all[500]),
		"0", failed == 0)
	s.rep.check(phase, "answers outside the contract", fmt.Sprint(st.unexpected), "0", st.unexpected == 0)
	s.rep.info(phase, "new connections refused after the listener closed", fmt.Sprint(st.refused))
	s.rep.info(phase, "requests sent after SIGTERM on closing connections", fmt.Sprint(st.notServed))
	for _, e := range st.errSamples {
		s.logf("shutdown: sample problem: %s", e)
	}
	for _, e := range st.non2xx {
		s.debugf("shutdown: sample non-2xx answer: %s", e)
	}

	// The exit.
	code := -1
	if exited {
		code = s.svc.exitCode()
	}
	s.rep.check(phase, "exit code", fmt.Sprint(code), "0", exited && code == 0)
	s.rep.check(phase, "time from SIGTERM to exit", fmtDur(exitAfter),
		fmt.Sprintf("<= %s (DRAIN_DELAY + SHUTDOWN_TIMEOUT)", exitBound), exited && exitAfter <= exitBound)
	_, _, _, clean := s.svc.logs.snapshot()
	s.rep.check(phase, `"stopped cleanly" logged`, fmt.Sprint(clean), "true", clean)
	return nil
}

// streamSleep sends a streaming /debug/sleep request, signals started
// once its status line has arrived (or it failed), and reads the body.
func streamSleep(ctx context.Context, hc *http.Client, url, key string, started chan<- struct{}) sleepResult {
	var res sleepResult
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("X-Forwarded-For", key)
	resp, err := hc.Do(req)
	started <- struct{}{}
	if err != nil {
		res.err = err
		return res
	}
	defer resp.Body.Close()
	res.status = resp.StatusCode
	b, err := io.ReadAll(resp.Body)
	res.body, res.err = string(b), err
	return res
}

// readiness is what watchReadiness saw.
type readiness struct {
	seen bool
	at   time.Time
	last string // the last answer or error, when never seen
}

// watchReadiness polls /readyz on fresh connections every 20ms until it
// answers 503, the process exits or ctx ends; the result arrives on the
// returned channel.
func watchReadiness(ctx context.Context, svc *proc) <-chan readiness {
	out := make(chan readiness, 1)
	go func() {
		hc := newClient(0, false)
		defer hc.CloseIdleConnections()
		var r readiness
		for ctx.Err() == nil && !svc.exited() {
			_, status, err := get(ctx, hc, svc.base+"/readyz", adminKey)
			switch {
			case err != nil:
				r.last = err.Error()
			case status == http.StatusServiceUnavailable:
				r.seen, r.at = true, time.Now()
				out <- r
				return
			default:
				r.last = fmt.Sprintf("status %d", status)
			}
			time.Sleep(20 * time.Millisecond)
		}
		out <- r
	}()
	return out
}
