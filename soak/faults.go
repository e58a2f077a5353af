package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// regime is how the downstream behaves for a while.
type regime int

const (
	// regimeHealthy answers every request correctly and at once.
	regimeHealthy regime = iota
	// regimeFlaky fails a few requests at random: 503s, connection resets
	// and latency spikes, some longer than the service's per-attempt
	// timeout. The service's breaker should stay closed and its retries fix
	// most failures.
	regimeFlaky
	// regimeThrottle answers most requests 429 with Retry-After: 0. A 429
	// is retryable but not a breaker failure, so only the retry budget
	// stands between the downstream and a retry storm.
	regimeThrottle
	// regimeOutage fails every request at once (503 or reset): the breaker
	// must open, and the service must answer fast 503s.
	regimeOutage
	numRegimes
)

func (r regime) String() string {
	return [...]string{"healthy", "flaky", "throttle", "outage"}[r]
}

// Fault rates. They are fixed, not flags, so that the bounds derived from
// them stay valid.
const (
	flaky503     = 0.04
	flakyReset   = 0.02
	flakySpike   = 0.02
	spikeMin     = 100 * time.Millisecond
	spikeMax     = 1500 * time.Millisecond // above the service's 1s DOWNSTREAM_TIMEOUT
	throttle429  = 0.6
	outageResets = 0.5 // the rest are 503s
)

// segment is one stretch of a schedule.
type segment struct {
	regime regime
	dur    time.Duration
}

// schedule says which regime the downstream is in at any time: from
// start, its cycle of segments repeats cycles times (forever if cycles is
// 0), then the tail segments follow once, then the downstream is healthy.
// The zero tail and an empty cycle mean healthy.
type schedule struct {
	start  time.Time
	cycle  []segment
	cycles int
	tail   []segment
}

func total(segs []segment) time.Duration {
	var d time.Duration
	for _, seg := range segs {
		d += seg.dur
	}
	return d
}

// period is the length of one cycle.
func (s schedule) period() time.Duration { return total(s.cycle) }

// length is how long the schedule runs before it turns healthy for good;
// 0 means forever (cycles is 0 and the cycle is not empty).
func (s schedule) length() time.Duration {
	if s.cycles == 0 && s.period() > 0 {
		return 0
	}
	return time.Duration(s.cycles)*s.period() + total(s.tail)
}

// at returns the regime at t and when its segment began. Before start it
// is regimeHealthy since start.
func (s schedule) at(t time.Time) (regime, time.Time) {
	if t.Before(s.start) {
		return regimeHealthy, s.start
	}
	off := t.Sub(s.start)
	p := s.period()
	var segs []segment
	switch {
	case p > 0 && (s.cycles == 0 || off < time.Duration(s.cycles)*p):
		segs = s.cycle
		off %= p
	default:
		if p > 0 {
			off -= time.Duration(s.cycles) * p
		}
		segs = s.tail
	}
	segStart := t.Add(-off)
	for _, seg := range segs {
		if off < seg.dur {
			return seg.regime, segStart
		}
		off -= seg.dur
		segStart = segStart.Add(seg.dur)
	}
	return regimeHealthy, segStart
}

// steadyOpen reports whether a request started at t arrived while the
// breaker was surely open: inside an outage segment, at least settle after
// the segment began (by then every attempt that started before the outage
// has ended, and the failures have opened the breaker).
func (s schedule) steadyOpen(t time.Time, settle time.Duration) bool {
	r, segStart := s.at(t)
	return r == regimeOutage && t.Sub(segStart) >= settle
}

// dsOutcome is what the downstream did with one request.
type dsOutcome int

const (
	dsOK dsOutcome = iota
	dsSpike
	ds503
	ds429
	dsReset
	dsUnauthorized
	dsBadRequest
	numOutcomes
)

func (o dsOutcome) String() string {
	return [...]string{"ok", "spike", "503", "429", "reset", "401", "400"}[o]
}

// downstream is the fault-injecting text-analysis service the service's
// /v1/digest calls: POST {"text": ...} with a bearer token, answered with
// {"words": n, "chars": n}. It listens on 127.0.0.1 and counts everything
// it sees. Safe for concurrent use.
type downstream struct {
	srv   *http.Server
	lis   net.Listener
	token string

	sched atomic.Pointer[schedule]

	rngMu sync.Mutex
	rng   *rand.Rand

	requests  atomic.Uint64
	untraced  atomic.Uint64 // requests without a traceparent header
	outcomes  [numRegimes][numOutcomes]atomic.Uint64
	attempts  attemptLog
	inFlight  sync.WaitGroup
	closeOnce sync.Once
}

// newDownstream starts the downstream on 127.0.0.1:0. Faults are drawn
// from a PCG generator seeded with seed: the same seed gives the same
// sequence of draws (which request gets which draw depends on scheduling).
func newDownstream(token string, seed uint64) (*downstream, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &downstream{lis: lis, token: token, rng: rand.New(rand.NewPCG(seed, 0x5eed))}
	d.sched.Store(&schedule{start: time.Now()})
	d.srv = &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second, ErrorLog: discardLog()}
	go func() { _ = d.srv.Serve(lis) }()
	return d, nil
}

// url is the endpoint to give the service as DOWNSTREAM_URL.
func (d *downstream) url() string { return "http://" + d.lis.Addr().String() + "/analyze" }

// setSchedule switches the fault schedule.
func (d *downstream) setSchedule(s schedule) { d.sched.Store(&s) }

// closeIdle closes the downstream's idle keep-alive connections, so that
// the service's connection pool (and its goroutines) empties.
func (d *downstream) closeIdle() {
	d.srv.SetKeepAlivesEnabled(false)
	d.srv.SetKeepAlivesEnabled(true)
}

// close stops the server and waits for its handlers.
func (d *downstream) close() {
	d.closeOnce.Do(func() {
		_ = d.srv.Close()
		d.inFlight.Wait()
	})
}

// counts returns the outcome counts so far, by regime.
func (d *downstream) counts() (out [numRegimes][numOutcomes]uint64) {
	for r := range d.outcomes {
		for o := range d.outcomes[r] {
			out[r][o] = d.outcomes[r][o].Load()
		}
	}
	return out
}

func (d *downstream) draw() (float64, time.Duration) {
	d.rngMu.Lock()
	defer d.rngMu.Unlock()
	p := d.rng.Float64()
	spike := spikeMin + time.Duration(d.rng.Int64N(int64(spikeMax-spikeMin)))
	return p, spike
}

// decide picks the outcome of a request in regime r from a uniform draw p.
func decide(r regime, p float64) dsOutcome {
	switch r {
	case regimeFlaky:
		switch {
		case p < flaky503:
			return ds503
		case p < flaky503+flakyReset:
			return dsReset
		case p < flaky503+flakyReset+flakySpike:
			return dsSpike
		}
	case regimeThrottle:
		if p < throttle429 {
			return ds429
		}
	case regimeOutage:
		if p < outageResets {
			return dsReset
		}
		return ds503
	}
	return dsOK
}

func (d *downstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.inFlight.Add(1)
	defer d.inFlight.Done()
	d.requests.Add(1)
	reg, _ := d.sched.Load().at(time.Now())
	count := func(o dsOutcome) { d.outcomes[reg][o].Add(1) }

	if r.Method != http.MethodPost || r.URL.Path != "/analyze" {
		count(dsBadRequest)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+d.token {
		count(dsUnauthorized)
		writeProblem(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	trace, ok := traceID(r.Header.Get("Traceparent"))
	if !ok {
		d.untraced.Add(1)
	} else {
		d.attempts.observe(trace+"|"+r.Header.Get("Idempotency-Key"), time.Now(), reg)
	}
	var in struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		count(dsBadRequest)
		writeProblem(w, http.StatusBadRequest, "body: not JSON")
		return
	}

	p, spike := d.draw()
	o := decide(reg, p)
	count(o)
	switch o {
	case ds503:
		writeProblem(w, http.StatusServiceUnavailable, "injected fault")
		return
	case ds429:
		w.Header().Set("Retry-After", "0")
		writeProblem(w, http.StatusTooManyRequests, "injected throttle")
		return
	case dsReset:
		resetConn(w)
		return
	case dsSpike:
		t := time.NewTimer(spike)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"words":%d,"chars":%d}`, len(strings.Fields(in.Text)), utf8.RuneCountInString(in.Text))
}

// resetConn aborts the connection with a TCP RST (SO_LINGER 0), as a
// crashing or overloaded peer would.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection without a response
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"title":%q,"status":%d,"detail":%q}`, http.StatusText(status), status, detail)
}

// traceID returns the trace id of a W3C traceparent header
// ("00-<32 hex>-<16 hex>-<2 hex>").
func traceID(tp string) (string, bool) {
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return "", false
	}
	id := tp[3:35]
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", false
		}
	}
	if id == strings.Repeat("0", 32) {
		return "", false
	}
	return id, true
}

// attemptLog tells first attempts from retries: the service sends one
// trace per /v1/digest request and one Idempotency-Key per note, so a
// (trace, key) pair seen again is a retry. Pairs are kept for two
// generations of attemptGen (far longer than REQUEST_TIMEOUT, which bounds
// every retry), so memory stays bounded however long the soak runs. Safe
// for concurrent use.
type attemptLog struct {
	mu        sync.Mutex
	cur, prev map[string]struct{}
	genStart  time.Time
	first     [numRegimes]uint64
	retries   [numRegimes]uint64
}

const attemptGen = 15 * time.Second

// observe records an attempt with the given key, seen at now in regime r.
func (l *attemptLog) observe(key string, now time.Time, r regime) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur == nil || now.Sub(l.genStart) >= attemptGen {
		l.prev, l.cur, l.genStart = l.cur, make(map[string]struct{}), now
	}
	_, inCur := l.cur[key]
	_, inPrev := l.prev[key]
	if inCur || inPrev {
		l.retries[r]++
		return
	}
	l.cur[key] = struct{}{}
	l.first[r]++
}

// totals returns the first attempts and retries seen, by regime.
func (l *attemptLog) totals() (first, retries [numRegimes]uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first, l.retries
}
