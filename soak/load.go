package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// op is one kind of request of the load mix.
type op int

const (
	opCreate op = iota
	opGet
	opList
	opDelete
	opDigest
	numOps
)

func (o op) String() string {
	return [...]string{"POST /v1/notes", "GET /v1/notes/{id}", "GET /v1/notes", "DELETE /v1/notes/{id}", "GET /v1/digest"}[o]
}

// contract reports whether status is an answer the service may give to o
// under this soak: the API's successes, and for the digest the documented
// degradations (503 when the downstream fails or the breaker is open, 504
// when the request's deadline passes). Anything else, 500s first, breaks
// the contract, except load shedding, which any route may answer (see
// isShed; the soak bounds it separately). 429 is not in it: load clients
// stay far below their limit.
func (o op) contract(status int) bool {
	switch o {
	case opCreate:
		return status == http.StatusCreated
	case opGet, opList:
		return status == http.StatusOK
	case opDelete:
		return status == http.StatusNoContent
	case opDigest:
		return status == http.StatusOK || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
	}
	return false
}

// shedDetail is the problem detail of a request the service's adaptive
// concurrency limit (guard.Shed, grpckit.WithShed) refused.
const shedDetail = "the server is overloaded; retry later"

// isShed reports whether an answer is the service shedding load: a 503
// problem with guard.Shed's detail. Shedding is a documented answer of
// every route (with Retry-After), so it is within the contract of every
// op; the soak counts and bounds it separately.
func isShed(status int, body []byte) bool {
	if status != http.StatusServiceUnavailable {
		return false
	}
	var p struct {
		Detail string `json:"detail"`
	}
	return json.Unmarshal(body, &p) == nil && p.Detail == shedDetail
}

// statusCounts counts responses by status code; index 0 holds codes
// outside 1..599.
type statusCounts [600]uint64

func (c *statusCounts) add(code int) {
	if code < 1 || code >= len(c) {
		code = 0
	}
	c[code]++
}

func (c *statusCounts) merge(o *statusCounts) {
	for i, n := range o {
		c[i] += n
	}
}

// count returns the number of responses whose code satisfies pred.
func (c *statusCounts) count(pred func(code int) bool) uint64 {
	var n uint64
	for code, k := range c {
		if k > 0 && pred(code) {
			n += k
		}
	}
	return n
}

func (c *statusCounts) total() uint64 { return c.count(func(int) bool { return true }) }

func is2xx(code int) bool { return code >= 200 && code < 300 }

// opStats is what one op saw.
type opStats struct {
	lat    hist
	status statusCounts
}

// maxErrSamples bounds the transport errors kept verbatim for the report.
const maxErrSamples = 5

// loadStats is what a load run saw. Workers fill their own and merge.
type loadStats struct {
	ops     [numOps]opStats
	all     hist // every answered request
	elapsed time.Duration

	// Digest answers.
	circuitOpen       hist               // 503 with "reason":"circuit_open"
	circuitOpenSteady hist               // ... for requests that arrived while the breaker was surely open
	circuitOpenByReg  [numRegimes]uint64 // ... by the regime when the request was sent
	circuitOpenLate   uint64             // ... for requests sent after loadConfig.lateAfter
	circuitOpenLast   time.Time          // when the last request answered circuit_open was sent
	digestOK          uint64             // 200 digests with every note analysed correctly
	digestWrong       uint64             // 200 digests with a missing, extra or wrong note

	// Contract.
	shed       [numOps]uint64 // 503s of the adaptive concurrency limit (isShed), by op
	unexpected uint64         // statuses outside the op's contract, shedding aside
	notProblem uint64         // 4xx/5xx answers that are not application/problem+json

	// Transport errors. In shutdown mode, errors after SIGTERM are split
	// by what the client saw.
	errs       uint64 // failures: no answer where one was due
	truncated  uint64 // failures: a status line arrived, the body did not
	refused    uint64 // after SIGTERM: the listener was closed (not a failure)
	notServed  uint64 // after SIGTERM: connection closed before the request was read (not a failure)
	errSamples []string
	non2xx     []string // samples of non-2xx answers, for -v
}

func (s *loadStats) merge(o *loadStats) {
	for i := range s.ops {
		s.ops[i].lat.merge(&o.ops[i].lat)
		s.ops[i].status.merge(&o.ops[i].status)
	}
	s.all.merge(&o.all)
	s.circuitOpen.merge(&o.circuitOpen)
	s.circuitOpenSteady.merge(&o.circuitOpenSteady)
	for i, n := range o.circuitOpenByReg {
		s.circuitOpenByReg[i] += n
	}
	s.circuitOpenLate += o.circuitOpenLate
	if o.circuitOpenLast.After(s.circuitOpenLast) {
		s.circuitOpenLast = o.circuitOpenLast
	}
	s.digestOK += o.digestOK
	s.digestWrong += o.digestWrong
	for i, n := range o.shed {
		s.shed[i] += n
	}
	s.unexpected += o.unexpected
	s.notProblem += o.notProblem
	s.errs += o.errs
	s.truncated += o.truncated
	s.refused += o.refused
	s.notServed += o.notServed
	for _, e := range o.errSamples {
		if len(s.errSamples) < maxErrSamples {
			s.errSamples = append(s.errSamples, e)
		}
	}
	for _, e := range o.non2xx {
		if len(s.non2xx) < maxErrSamples {
			s.non2xx = append(s.non2xx, e)
		}
	}
}

// statuses returns the status counts of every op together.
func (s *loadStats) statuses() *statusCounts {
	var c statusCounts
	for i := range s.ops {
		c.merge(&s.ops[i].status)
	}
	return &c
}

func (s *loadStats) noteErr(err error) {
	if len(s.errSamples) < maxErrSamples {
		s.errSamples = append(s.errSamples, err.Error())
	}
}

// analysis is what the downstream says about a text.
type analysis struct {
	Words int `json:"words"`
	Chars int `json:"chars"`
}

// corpus is the notes created before the load: every digest covers
// exactly these (the service digests the 50 lowest ids, and the load never
// deletes them).
type corpus struct {
	ids  []int64
	want map[int64]analysis
}

// loadConfig describes one run of the closed-loop generator.
type loadConfig struct {
	base        string // http://host:port
	hc          *http.Client
	workers     int
	dur         time.Duration
	maxRequests uint64
	mix         [numOps]int // weights
	seed        uint64
	corpus      *corpus
	keyBase     int // workers use client keys 172.(16+keyBase).<worker>.<0..255>

	// sched and settle classify circuit-open answers (schedule.steadyOpen);
	// a nil sched means no fault schedule.
	sched  *schedule
	settle time.Duration

	// lateAfter, if set, counts circuit-open answers to requests sent
	// after it: once the downstream has healed and the breaker's open
	// timeout has passed, there should be none.
	lateAfter time.Time

	// sigterm, in shutdown mode, is set (unix ns) just before SIGTERM is
	// sent; errors are then classified against it, and a worker stops at
	// its first refused connection.
	sigterm *atomic.Int64
}

// runLoad runs cfg.workers closed-loop workers, each sending one request
// and waiting for its answer before the next, until cfg.dur has passed,
// cfg.maxRequests have been sent or ctx ends. Requests in flight then
// finish (each is bounded by requestTimeout); ending ctx cancels them.
// Each worker then deletes the notes it created (unless in shutdown mode).
// It returns when every worker has stopped.
func runLoad(ctx context.Context, cfg loadConfig) *loadStats {
	var sent atomic.Uint64
	total := &loadStats{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(cfg.dur)
	for i := range cfg.workers {
		w := &worker{
			id:    i,
			cfg:   &cfg,
			rng:   rand.New(rand.NewPCG(cfg.seed, uint64(i))),
			sent:  &sent,
			vocab: strings.Fields(vocabulary),
		}
		wg.Go(func() {
			w.loop(ctx, deadline)
			mu.Lock()
			total.merge(&w.stats)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	return total
}

// worker is one closed loop of the generator.
type worker struct {
	id    int
	cfg   *loadConfig
	rng   *rand.Rand
	sent  *atomic.Uint64
	own   []int64 // notes this worker created and has not deleted, oldest first
	stats loadStats
	stop  bool // shutdown mode: the listener is gone
	vocab []string
}

// requestTimeout bounds every request of the soak, so that a hung service
// cannot hang it.
const requestTimeout = 30 * time.Second

// maxOwn bounds the notes a worker keeps, so the store stays small.
const maxOwn = 16

func (w *worker) loop(ctx context.Context, deadline time.Time) {
	for ctx.Err() == nil && !w.stop && time.Now().Before(deadline) {
		if w.cfg.maxRequests > 0 && w.sent.Add(1) > w.cfg.maxRequests {
			break
		}
		w.do(ctx, w.pick())
	}
	if w.cfg.sigterm != nil {
		return
	}
	// Clean up with a fresh context: the run's has ended.
	for len(w.own) > 0 && ctx.Err() == nil {
		n := len(w.own)
		w.do(ctx, opDelete)
		if len(w.own) == n {
			break // the delete failed; it was counted
		}
	}
}

// pick draws the next op from the mix.
func (w *worker) pick() op {
	total := 0
	for _, n := range w.cfg.mix {
		total += n
	}
	r := w.rng.IntN(max(total, 1))
	o := opGet
	for i, n := range w.cfg.mix {
		if r < n {
			o = op(i)
			break
		}
		r -= n
	}
	switch {
	case o == opDelete && len(w.own) == 0:
		return opCreate
	case o == opCreate && len(w.own) >= maxOwn:
		return opDelete
	}
	return o
}

// key returns a client key (X-Forwarded-For) for the next request: each
// worker spreads its requests over 256 keys, far below the rate limit.
func (w *worker) key() string {
	return fmt.Sprintf("172.%d.%d.%d", 16+w.cfg.keyBase, w.id%256, w.rng.IntN(256))
}

// request builds the request for o.
func (w *worker) request(ctx context.Context, o op) (*http.Request, int64) {
	var method, path string
	var body io.Reader = http.NoBody
	var id int64
	switch o {
	case opCreate:
		method, path = http.MethodPost, "/v1/notes"
		b, _ := json.Marshal(map[string]string{
			"title": fmt.Sprintf("soak w%d", w.id),
			"body":  words(w.rng, w.vocab, 3+w.rng.IntN(20)),
		})
		body = bytes.NewReader(b)
	case opGet:
		id = w.cfg.corpus.ids[w.rng.IntN(len(w.cfg.corpus.ids))]
		if len(w.own) > 0 && w.rng.IntN(2) == 0 {
			id = w.own[w.rng.IntN(len(w.own))]
		}
		method, path = http.MethodGet, "/v1/notes/"+strconv.FormatInt(id, 10)
	case opList:
		method, path = http.MethodGet, "/v1/notes?limit=20"
	case opDelete:
		id = w.own[0]
		method, path = http.MethodDelete, "/v1/notes/"+strconv.FormatInt(id, 10)
	case opDigest:
		method, path = http.MethodGet, "/v1/digest"
	}
	req, _ := http.NewRequestWithContext(ctx, method, w.cfg.base+path, body)
	if o == opCreate {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Forwarded-For", w.key())
	req.Header.Set("User-Agent", "chassis-soak")
	return req, id
}

// reqTrace records, for shutdown mode, how far a request got.
type reqTrace struct {
	wrote, firstByte atomic.Int64 // unix ns, 0 if not yet
}

func (t *reqTrace) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		WroteRequest:         func(httptrace.WroteRequestInfo) { t.wrote.Store(time.Now().UnixNano()) },
		GotFirstResponseByte: func() { t.firstByte.Store(time.Now().UnixNano()) },
	}
}

// do sends one request of kind o and records what came back.
func (w *worker) do(ctx context.Context, o op) {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, id := w.request(rctx, o)
	var tr *reqTrace
	if w.cfg.sigterm != nil {
		tr = &reqTrace{}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), tr.clientTrace()))
	}
	start := time.Now()
	resp, err := w.cfg.hc.Do(req)
	if err != nil {
		w.transportError(ctx, err, tr, false)
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	resp.Body.Close()
	lat := time.Since(start)
	if err != nil {
		w.transportError(ctx, err, tr, true)
		return
	}
	st := &w.stats
	st.ops[o].lat.record(lat)
	st.ops[o].status.add(resp.StatusCode)
	st.all.record(lat)
	shed := isShed(resp.StatusCode, body)
	if shed {
		st.shed[o]++
	}
	if !o.contract(resp.StatusCode) && !shed {
		st.unexpected++
		if len(st.errSamples) < maxErrSamples {
			st.errSamples = append(st.errSamples, fmt.Sprintf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, truncate(body, 200)))
		}
	}
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		st.notProblem++
	}
	if !is2xx(resp.StatusCode) && len(st.non2xx) < maxErrSamples && (w.cfg.sigterm != nil || problemReason(body) != "circuit_open") {
		when := ""
		if w.cfg.sigterm != nil {
			when = fmt.Sprintf(" (sent %s after SIGTERM)", start.Sub(time.Unix(0, w.cfg.sigterm.Load())))
			if w.cfg.sigterm.Load() == 0 {
				when = " (sent before SIGTERM)"
			}
		}
		st.non2xx = append(st.non2xx, fmt.Sprintf("%s %s%s: %d %s", req.Method, req.URL.Path, when, resp.StatusCode, truncate(body, 300)))
	}
	switch {
	case o == opCreate && resp.StatusCode == http.StatusCreated:
		var n struct {
			ID int64 `json:"id"`
		}
		if json.Unmarshal(body, &n) == nil && n.ID > 0 {
			w.own = append(w.own, n.ID)
		}
	case o == opDelete && (resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotFound):
		w.forget(id)
	case o == opDigest && resp.StatusCode == http.StatusOK:
		if checkDigest(body, w.cfg.corpus.want) {
			st.digestOK++
		} else {
			st.digestWrong++
		}
	case o == opDigest && resp.StatusCode == http.StatusServiceUnavailable && problemReason(body) == "circuit_open":
		st.circuitOpen.record(lat)
		if w.cfg.sched != nil {
			if w.cfg.sched.steadyOpen(start, w.cfg.settle) {
				st.circuitOpenSteady.record(lat)
			}
			r, _ := w.cfg.sched.at(start)
			st.circuitOpenByReg[r]++
		}
		if start.After(st.circuitOpenLast) {
			st.circuitOpenLast = start
		}
		if !w.cfg.lateAfter.IsZero() && start.After(w.cfg.lateAfter) {
			st.circuitOpenLate++
		}
	}
}

func (w *worker) forget(id int64) {
	for i, x := range w.own {
		if x == id {
			w.own = append(w.own[:i], w.own[i+1:]...)
			return
		}
	}
}

// transportError classifies a request that got no complete answer. Outside
// shutdown mode every such request is a failure. In shutdown mode a
// request whose status line arrived must still complete (truncated is a
// failure), and so must one written before SIGTERM (the service serves
// normally during its drain delay); one refused or closed unanswered
// after SIGTERM was never accepted, which is allowed.
func (w *worker) transportError(ctx context.Context, err error, tr *reqTrace, gotStatus bool) {
	st := &w.stats
	if ctx.Err() != nil {
		return // the soak is aborting: not the service's doing
	}
	if tr == nil {
		if gotStatus {
			st.truncated++
		} else {
			st.errs++
		}
		st.noteErr(err)
		return
	}
	sig := w.cfg.sigterm.Load()
	afterSig := sig != 0
	if gotStatus || tr.firstByte.Load() != 0 {
		st.truncated++
		st.noteErr(err)
		return
	}
	if wrote := tr.wrote.Load(); !afterSig || wrote != 0 && wrote < sig {
		st.errs++
		st.noteErr(fmt.Errorf("before SIGTERM: %w", err))
		return
	}
	if isRefused(err) {
		st.refused++
		w.stop = true
		return
	}
	st.notServed++
}

// isRefused reports whether err is a refused connection.
func isRefused(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &op) && op.Op == "dial"
}

// checkDigest reports whether a 200 digest body holds exactly the corpus,
// each note analysed correctly.
func checkDigest(body []byte, want map[int64]analysis) bool {
	var d struct {
		Notes []struct {
			ID    int64 `json:"id"`
			Words int   `json:"words"`
			Chars int   `json:"chars"`
		} `json:"notes"`
	}
	if json.Unmarshal(body, &d) != nil || len(d.Notes) != len(want) {
		return false
	}
	seen := make(map[int64]bool, len(d.Notes))
	for _, n := range d.Notes {
		a, ok := want[n.ID]
		if !ok || seen[n.ID] || a.Words != n.Words || a.Chars != n.Chars {
			return false
		}
		seen[n.ID] = true
	}
	return true
}

// problemReason returns the "reason" member of a problem body, or "".
func problemReason(body []byte) string {
	var p struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Reason
}

// vocabulary makes note bodies, with multi-byte runes so that the
// downstream's character count differs from the byte count.
const vocabulary = "alpha beta gamma δέλτα epsilon zêta eta thêta iota kappa λ mu"

// words returns n words drawn from vocab, separated by spaces.
func words(rng *rand.Rand, vocab []string, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vocab[rng.IntN(len(vocab))])
	}
	return b.String()
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
