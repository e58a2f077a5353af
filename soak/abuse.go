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

// Bounds of the abuse phase.
const (
	// abuseRSSGrowth bounds how much the service's resident memory may
	// grow during the flood. The rate limiter tracks at most 100,000 keys
	// at about 60 bytes plus the key each (under 10 MiB); the rest is the
	// Go heap's headroom (GOGC=100 lets the heap reach twice the live
	// data) and connection buffers. A limiter that kept every key of a
	// 250,000-key flood, or state per request, breaks it.
	abuseRSSGrowth = 96 << 20

	// peakRSSBound bounds the service's peak resident memory (VmHWM) over
	// the whole run, every phase included: about 2.5 times what the long
	// profile measured (48 MiB), far below what a per-request or per-key
	// leak would reach over a million requests and 250,000 keys.
	peakRSSBound = 128 << 20

	// limiterMaxKeys is guard.DefaultMaxKeys, the service's bound on the
	// keys its memory limiter tracks.
	limiterMaxKeys = 100_000

	// wellBehavedEvery is how often each well-behaved client sends a
	// request: 10/s, a tenth of its limit.
	wellBehavedEvery = 100 * time.Millisecond
)

// floodKey returns the i-th flood client key (i ≥ 1): distinct addresses
// in 10.0.0.0/8.
func floodKey(i int) string {
	return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
}

// hitResult is one request of the abuse phase.
type hitResult struct {
	status     int
	retryAfter string
	sent, recv time.Time
	err        error
}

// hit sends GET url as client key and reads the whole answer.
func hit(ctx context.Context, hc *http.Client, url, key string) hitResult {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	r := hitResult{sent: time.Now()}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("X-Forwarded-For", key)
	resp, err := hc.Do(req)
	if err != nil {
		r.err = err
		return r
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.recv = time.Now()
	r.status, r.retryAfter, r.err = resp.StatusCode, resp.Header.Get("Retry-After"), err
	return r
}

// actorStats is what one group of abuse-phase clients saw.
type actorStats struct {
	mu                sync.Mutex
	status            statusCounts
	lat               hist
	errs              uint64
	errSample         string
	missingRetryAfter uint64 // 429s without a Retry-After header
	first, last       time.Time
}

func (a *actorStats) add(r hitResult, ctxErr error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.err != nil {
		if ctxErr == nil {
			a.errs++
			if a.errSample == "" {
				a.errSample = r.err.Error()
			}
		}
		return
	}
	a.status.add(r.status)
	a.lat.record(r.recv.Sub(r.sent))
	if r.status == http.StatusTooManyRequests && r.retryAfter == "" {
		a.missingRetryAfter++
	}
	if a.first.IsZero() || r.sent.Before(a.first) {
		a.first = r.sent
	}
	if r.recv.After(a.last) {
		a.last = r.recv
	}
}

// abusePhase floods the service with requests from many distinct client
// keys next to one hot key and a few well-behaved clients.
func (s *soak) abusePhase(ctx context.Context) error {
	p := s.prof
	const phase = "abuse"
	s.logf("phase abuse: flood of %d keys (%d workers, at most %s), 1 hot key (%d workers), %d well-behaved clients",
		p.floodKeys, p.floodWorkers, p.floodCap, p.hotWorkers, p.wellBehaved)
	rss0, _, err := s.svc.memStatus()
	if err != nil {
		return err
	}
	rt0, rtErr := s.svc.runtime(ctx, s.admin)
	url := s.svc.base + "/v1/notes/" + strconv.FormatInt(s.corpus.ids[0], 10)

	floodHC, hotHC, wellHC := newClient(p.floodWorkers, true), newClient(p.hotWorkers, true), newClient(p.wellBehaved, true)
	defer floodHC.CloseIdleConnections()
	defer hotHC.CloseIdleConnections()
	defer wellHC.CloseIdleConnections()

	actx, stopActors := context.WithCancel(ctx)
	defer stopActors()
	var actors sync.WaitGroup
	var hot, well, flood actorStats

	// Memory sampler.
	var rssPeak atomic.Uint64
	var heapPeak atomic.Uint64
	rssPeak.Store(rss0)
	actors.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-actx.Done():
				return
			case <-tick.C:
			}
			if rss, _, err := s.svc.memStatus(); err == nil && rss > rssPeak.Load() {
				rssPeak.Store(rss)
			}
			if i%10 == 0 && rtErr == nil {
				if rt, err := s.svc.runtime(actx, s.admin); err == nil && rt.HeapInuseBytes > heapPeak.Load() {
					heapPeak.Store(rt.HeapInuseBytes)
				}
			}
		}
	})
	// Well-behaved clients: 10 requests a second each, a tenth of the limit.
	for i := range p.wellBehaved {
		key := fmt.Sprintf("198.51.100.%d", i+1)
		actors.Go(func() {
			tick := time.NewTicker(wellBehavedEvery)
			defer tick.Stop()
			for {
				select {
				case <-actx.Done():
					return
				case <-tick.C:
				}
				well.add(hit(actx, wellHC, url, key), actx.Err())
			}
		})
	}
	// The hot key: as fast as its workers go.
	for range p.hotWorkers {
		actors.Go(func() {
			for actx.Err() == nil {
				hot.add(hit(actx, hotHC, url, "192.0.2.66"), actx.Err())
			}
		})
	}

	// The flood: each key once.
	var next atomic.Int64
	var floodWG sync.WaitGroup
	floodStart := time.Now()
	floodEnd := floodStart.Add(p.floodCap)
	for range p.floodWorkers {
		floodWG.Go(func() {
			for ctx.Err() == nil && time.Now().Before(floodEnd) {
				i := int(next.Add(1))
				if i > p.floodKeys {
					return
				}
				flood.add(hit(ctx, floodHC, url, floodKey(i)), ctx.Err())
			}
		})
	}
	floodWG.Wait()
	floodDur := time.Since(floodStart)
	stopActors()
	actors.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	sent := min(int(next.Load()), p.floodKeys)
	keysDone := flood.status.total() + flood.errs

	// The flood.
	s.rep.check(phase, "flood client keys (1 request each)",
		fmt.Sprintf("%d in %s (%.0f/s), target %d", keysDone, fmtDur(floodDur), float64(keysDone)/floodDur.Seconds(), p.floodKeys),
		fmt.Sprintf(">= %d", p.floodMinKeys), keysDone >= uint64(p.floodMinKeys))
	if sent < p.floodKeys {
		s.logf("abuse: the flood reached %d of %d keys within %s", sent, p.floodKeys, p.floodCap)
		s.rep.info(phase, "flood scaled down", fmt.Sprintf("%d of %d keys fit in the %s cap", keysDone, p.floodKeys, p.floodCap))
	}
	s.rep.info(phase, "flood answers", fmtStatuses(&flood.status))
	s.rep.check(phase, "flood 500 answers", fmt.Sprint(flood.status[500]), "0", flood.status[500] == 0)
	s.rep.check(phase, "flood requests failed (no answer)", fmt.Sprint(flood.errs), "0", flood.errs == 0)
	if flood.errSample != "" {
		s.logf("abuse: flood error sample: %s", flood.errSample)
	}

	// Memory.
	growth := float64(rssPeak.Load()) - float64(rss0)
	s.rep.check(phase, "service RSS growth during the flood", fmt.Sprintf("%s (from %s to peak %s)", fmtMiB(growth), fmtMiB(float64(rss0)), fmtMiB(float64(rssPeak.Load()))),
		"<= "+fmtMiB(abuseRSSGrowth), growth <= abuseRSSGrowth)
	if _, hwm, err := s.svc.memStatus(); err == nil {
		s.rep.check(phase, "service peak RSS since start (VmHWM)", fmtMiB(float64(hwm)), "<= "+fmtMiB(peakRSSBound), hwm <= peakRSSBound)
	}
	if rtErr == nil {
		s.rep.info(phase, "service heap in use, peak sampled", fmt.Sprintf("%s (before %s)", fmtMiB(float64(heapPeak.Load())), fmtMiB(float64(rt0.HeapInuseBytes))))
	}
	if m, err := s.svc.metrics(ctx, s.admin); err == nil {
		if keys, ok := m.sum("chassis_ratelimit_keys", "chassis_limiter", "memory"); ok {
			s.rep.check(phase, "rate limiter keys tracked (metric)", fmt.Sprintf("%.0f", keys), fmt.Sprintf("<= %d", limiterMaxKeys), keys <= limiterMaxKeys)
		}
	}

	// The hot key.
	admitted := hot.status.count(is2xx)
	var elapsed time.Duration
	if !hot.first.IsZero() {
		elapsed = hot.last.Sub(hot.first)
	}
	bound := hotKeyBound(rateLimit, ratePer, rateBurst, elapsed)
	s.rep.check(phase, "hot key admitted",
		fmt.Sprintf("%d of %d over %s", admitted, hot.status.total(), fmtDur(elapsed)),
		fmt.Sprintf("<= %d (burst %d + %d/%s × elapsed)", bound, rateBurst, rateLimit, ratePer),
		admitted <= bound)
	s.rep.check(phase, "hot key denied (429)", fmt.Sprint(hot.status[429]), ">= 1", hot.status[429] >= 1)
	s.rep.check(phase, "429s without Retry-After", fmt.Sprint(hot.missingRetryAfter+flood.missingRetryAfter), "0", hot.missingRetryAfter+flood.missingRetryAfter == 0)
	s.rep.check(phase, "hot key requests failed (no answer)", fmt.Sprint(hot.errs), "0", hot.errs == 0)

	// Well-behaved clients.
	ok := well.status.count(is2xx)
	total := well.status.total() + well.errs
	s.rep.check(phase, "well-behaved clients answered 2xx",
		fmt.Sprintf("%d of %d (%s), p99 %s", ok, total, fmtPct(ok, total), fmtDur(well.lat.quantile(0.99))),
		"100%", total > 0 && ok == total)
	if well.errSample != "" {
		s.logf("abuse: well-behaved error sample: %s", well.errSample)
	}
	return nil
}
