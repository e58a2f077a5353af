package call

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrCircuitOpen is matched (with errors.Is) by the error Client.Do returns,
// without sending the request or asking the token source for a token, while
// the destination host's breaker is open, or half-open with all its probes
// in flight. The error names the host.
var ErrCircuitOpen = errors.New("call: circuit open")

// State is the state of a circuit breaker. The zero State is StateClosed.
type State int32

// Breaker states.
const (
	// StateClosed lets every request through and counts failures.
	StateClosed State = iota
	// StateOpen rejects every request with ErrCircuitOpen until
	// BreakerPolicy.OpenTimeout has passed.
	StateOpen
	// StateHalfOpen lets BreakerPolicy.HalfOpenProbes requests through at a
	// time and rejects the others: as many successes close the breaker,
	// any failure opens it again.
	StateHalfOpen
)

// String returns "closed", "open" or "half_open" (the values of the
// chassis.breaker.state metric attribute).
func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half_open"
	}
	return "unknown"
}

// BreakerPolicy configures the circuit breakers of a Client: one per
// destination host (URL.Host, compared case-insensitively), created on
// first use and owned by the Client. There is no global registry.
//
// A closed breaker opens after ConsecutiveFailures failures in a row, or,
// if FailureRatio is set, when at least MinRequests outcomes were recorded
// in the last Window and the share of failures among them reaches
// FailureRatio. After OpenTimeout it lets HalfOpenProbes requests through;
// as many successes close it, any failure opens it again for OpenTimeout.
//
// The breaker is consulted for every attempt, retries included, before the
// token source or the network is touched. An outcome is a failure when
// IsFailure says so: by default any error (per-attempt timeouts included)
// or a 5xx status; 4xx statuses are successes. An attempt cut short
// because the caller's own context ended is neither: it never trips a
// breaker, and a half-open probe cut short that way frees its slot.
//
// The zero BreakerPolicy is the default: open after 5 consecutive failures,
// probe once after 30s, at most 1024 hosts. A BreakerPolicy is a plain
// value: [WithBreaker] copies it.
type BreakerPolicy struct {
	// ConsecutiveFailures opens the breaker after that many failures in a
	// row. Zero means 5; negative disables this trigger (FailureRatio must
	// then be set).
	ConsecutiveFailures int

	// FailureRatio, in (0, 1], opens the breaker when the share of failures
	// over Window reaches it. Zero disables this trigger. Other values
	// panic.
	FailureRatio float64

	// MinRequests is how many outcomes Window must hold before FailureRatio
	// is applied. Zero means 10. Negative panics.
	MinRequests int

	// Window is the rolling window for FailureRatio, kept as 10 buckets of
	// Window/10 each. Zero means 10s. Negative values and values under
	// 10ns panic.
	Window time.Duration

	// OpenTimeout is how long an open breaker rejects requests before it
	// lets probes through. Zero means 30s. Negative panics.
	OpenTimeout time.Duration

	// HalfOpenProbes is how many requests a half-open breaker lets through
	// at a time, and how many must succeed to close it. Zero means 1.
	// Negative panics.
	HalfOpenProbes int

	// MaxHosts bounds the number of breakers a Client keeps. When a new host
	// needs a breaker and the set is full, about MaxHosts/8 breakers are
	// evicted, least recently used first within each class, in this order:
	// closed breakers with no failures in memory (they carry no
	// information), other closed breakers, then open breakers whose
	// OpenTimeout has passed. Open breakers still within OpenTimeout and
	// half-open breakers are never evicted: if they fill the set, the new
	// host is served without a breaker until one of them expires. Zero
	// means 1024. Negative panics.
	MaxHosts int

	// IsFailure, if non-nil, replaces the default failure test (err != nil
	// or a 5xx status). It gets the response (nil on error) or the error
	// (nil with a response) and must not read or close the body. It is
	// never called for attempts cut short by the caller's context. It is
	// called on the goroutine that called Do, with no lock held.
	IsFailure func(resp *http.Response, err error) bool

	// OnStateChange, if non-nil, is called after each state change of a
	// host's breaker, with the lowercased host. It is called after the
	// breaker's lock is released, on the goroutine whose request caused
	// the change (a goroutine calling Do); it may call Client.BreakerState
	// and other Client methods, but it must not block, as that goroutine's
	// caller is waiting. Calls for one host may run concurrently with calls
	// for another, and, rarely, out of order with each other.
	OnStateChange func(host string, from, to State)
}

const (
	defaultConsecutiveFailures = 5
	defaultMinRequests         = 10
	defaultBreakerWindow       = 10 * time.Second
	defaultOpenTimeout         = 30 * time.Second
	defaultHalfOpenProbes      = 1
	defaultMaxHosts            = 1024
	windowBuckets              = 10
)

func (p BreakerPolicy) validate() {
	switch {
	case math.IsNaN(p.FailureRatio) || p.FailureRatio < 0 || p.FailureRatio > 1:
		panic("call.WithBreaker: FailureRatio is outside [0, 1]; use e.g. 0.5, or 0 to disable")
	case p.ConsecutiveFailures < 0 && p.FailureRatio == 0:
		panic("call.WithBreaker: ConsecutiveFailures is negative and FailureRatio is 0, so nothing opens the breaker; set one of them")
	case p.MinRequests < 0:
		panic("call.WithBreaker: MinRequests is negative; use 0 for the default 10")
	case p.Window < 0:
		panic("call.WithBreaker: Window is negative; use 0 for the default 10s")
	case p.Window > 0 && p.Window < windowBuckets:
		panic("call.WithBreaker: Window is shorter than 10ns; use 0 for the default 10s")
	case p.OpenTimeout < 0:
		panic("call.WithBreaker: OpenTimeout is negative; use 0 for the default 30s")
	case p.HalfOpenProbes < 0:
		panic("call.WithBreaker: HalfOpenProbes is negative; use 0 for the default 1")
	case p.MaxHosts < 0:
		panic("call.WithBreaker: MaxHosts is negative; use 0 for the default 1024")
	}
}

// breakerPolicy is a BreakerPolicy with its defaults resolved.
type breakerPolicy struct {
	consecutive   int32 // 0: trigger disabled
	ratio         float64
	minRequests   int64
	bucketWidth   int64 // ns
	openTimeout   int64 // ns
	probes        int
	maxHosts      int
	isFailure     func(*http.Response, error) bool
	onStateChange func(host string, from, to State)
}

func resolveBreakerPolicy(p BreakerPolicy) breakerPolicy {
	r := breakerPolicy{
		ratio:         p.FailureRatio,
		minRequests:   int64(p.MinRequests),
		probes:        p.HalfOpenProbes,
		maxHosts:      p.MaxHosts,
		isFailure:     p.IsFailure,
		onStateChange: p.OnStateChange,
	}
	switch {
	case p.ConsecutiveFailures == 0:
		r.consecutive = defaultConsecutiveFailures
	case p.ConsecutiveFailures > 0:
		r.consecutive = int32(min(p.ConsecutiveFailures, math.MaxInt32))
	}
	if r.minRequests == 0 {
		r.minRequests = defaultMinRequests
	}
	w := p.Window
	if w == 0 {
		w = defaultBreakerWindow
	}
	r.bucketWidth = int64(w / windowBuckets)
	r.openTimeout = int64(p.OpenTimeout)
	if r.openTimeout == 0 {
		r.openTimeout = int64(defaultOpenTimeout)
	}
	if r.probes == 0 {
		r.probes = defaultHalfOpenProbes
	}
	if r.maxHosts == 0 {
		r.maxHosts = defaultMaxHosts
	}
	if r.isFailure == nil {
		r.isFailure = defaultIsFailure
	}
	return r
}

func defaultIsFailure(resp *http.Response, err error) bool {
	return err != nil || resp.StatusCode >= 500
}

type outcome uint8

const (
	outcomeSuccess outcome = iota
	outcomeFailure
	outcomeIgnored // the caller gave up: neither success nor failure
)

// breakerSet is a Client's bounded set of per-host breakers.
type breakerSet struct {
	pol    breakerPolicy
	now    func() time.Time
	origin time.Time
	tel    *instruments

	epoch atomic.Uint64           // bumped by every insertion; breakers' LRU stamp
	last  atomic.Pointer[breaker] // the breaker most recently looked up

	mu sync.RWMutex
	m  map[string]*breaker
}

func newBreakerSet(p BreakerPolicy, now func() time.Time, tel *instruments) *breakerSet {
	return &breakerSet{
		pol:    resolveBreakerPolicy(p),
		now:    now,
		origin: now(),
		tel:    tel,
		m:      make(map[string]*breaker),
	}
}

// nanos returns the clock as nanoseconds since the set was created.
func (s *breakerSet) nanos() int64 { return int64(s.now().Sub(s.origin)) }

func (s *breakerSet) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

func (s *breakerSet) lookup(host string) *breaker {
	key := lowerASCII(host)
	s.mu.RLock()
	b := s.m[key]
	s.mu.RUnlock()
	return b
}

func (s *breakerSet) state(host string) State {
	b := s.lookup(host)
	if b == nil {
		return StateClosed
	}
	return State(b.sg.Load() & stateMask)
}

// get returns host's breaker, creating it if needed. It returns nil when
// the set is full of breakers that may not be evicted.
func (s *breakerSet) get(host string) *breaker {
	// Most Clients call one host: skip the map for a repeat.
	if b := s.last.Load(); b != nil && b.host == host {
		return b
	}
	key := lowerASCII(host)
	s.mu.RLock()
	b := s.m[key]
	s.mu.RUnlock()
	if b != nil {
		s.last.Store(b)
		return b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b = s.m[key]; b != nil {
		return b
	}
	if len(s.m) >= s.pol.maxHosts {
		s.evictLocked()
		if len(s.m) >= s.pol.maxHosts {
			return nil
		}
	}
	b = &breaker{set: s, host: key, openErr: fmt.Errorf("%w for %s", ErrCircuitOpen, key)}
	b.lastUse.Store(s.epoch.Add(1))
	s.m[key] = b
	s.last.Store(b)
	return b
}

// evictLocked removes up to maxHosts/8 (at least one) evictable breakers,
// lowest class first, least recently used first within a class.
// s.mu must be held for writing.
func (s *breakerSet) evictLocked() {
	type cand struct {
		key   string
		class int
		use   uint64
	}
	now := s.nanos()
	cands := make([]cand, 0, len(s.m))
	for k, b := range s.m {
		if c := b.evictClass(now); c >= 0 {
			cands = append(cands, cand{k, c, b.lastUse.Load()})
		}
	}
	n := max(1, s.pol.maxHosts/8)
	if len(cands) > n {
		slices.SortFunc(cands, func(a, b cand) int {
			if a.class != b.class {
				return a.class - b.class
			}
			switch {
			case a.use < b.use:
				return -1
			case a.use > b.use:
				return 1
			}
			return 0
		})
		cands = cands[:n]
	}
	for _, c := range cands {
		delete(s.m, c.key)
	}
	s.last.Store(nil) // it may have been evicted
}

// The breaker's state and generation share one atomic word, so that the
// closed-state fast path is a single load. The generation grows with every
// state change; outcomes carry the generation they were allowed in, and
// outcomes from an earlier generation are dropped.
const (
	stateMask = 3
	genShift  = 2
)

// breaker is one host's circuit breaker.
type breaker struct {
	set     *breakerSet
	host    string
	openErr error // ErrCircuitOpen naming host, built once so rejections allocate nothing

	sg          atomic.Uint64 // generation<<genShift | State
	openUntil   atomic.Int64  // set.nanos() at which an open breaker may probe
	lastUse     atomic.Uint64 // set.epoch at last use
	consecutive atomic.Int32  // consecutive failures while closed; written under mu

	mu        sync.Mutex
	win       window // outcomes while closed, if FailureRatio is set
	inflight  int    // half-open probes in flight
	successes int    // half-open probes that succeeded
}

type transition struct{ from, to State }

// allow reports whether a request may be sent now, and the generation its
// outcome must be recorded with.
func (b *breaker) allow() (gen uint64, ok bool) {
	if e := b.set.epoch.Load(); b.lastUse.Load() != e {
		b.lastUse.Store(e)
	}
	sg := b.sg.Load()
	st := State(sg & stateMask)
	if st == StateClosed {
		return sg >> genShift, true
	}
	if st == StateOpen && b.set.nanos() < b.openUntil.Load() {
		return 0, false
	}
	var tr transition
	b.mu.Lock()
	sg = b.sg.Load()
	switch State(sg & stateMask) {
	case StateClosed:
		b.mu.Unlock()
		return sg >> genShift, true
	case StateOpen:
		if b.set.nanos() < b.openUntil.Load() {
			b.mu.Unlock()
			return 0, false
		}
		sg = b.setStateLocked(sg, StateHalfOpen)
		tr = transition{StateOpen, StateHalfOpen}
	}
	ok = b.inflight < b.set.pol.probes
	if ok {
		b.inflight++
	}
	b.mu.Unlock()
	if ok && tr.from != tr.to {
		// The probe slot is taken: if OnStateChange panics, free it, or
		// the half-open breaker would wait for this probe forever.
		fired := false
		defer func() {
			if !fired {
				b.record(sg>>genShift, outcomeIgnored)
			}
		}()
		b.fire(tr)
		fired = true
		return sg >> genShift, ok
	}
	b.fire(tr)
	return sg >> genShift, ok
}

// record records the outcome of a request allowed in generation gen.
func (b *breaker) record(gen uint64, o outcome) {
	sg := b.sg.Load()
	if sg>>genShift != gen {
		return
	}
	pol := &b.set.pol
	if State(sg&stateMask) == StateClosed {
		if o == outcomeIgnored {
			return
		}
		if o == outcomeSuccess && pol.ratio == 0 && b.consecutive.Load() == 0 {
			return // nothing to update: the common case takes no lock
		}
	}
	var tr transition
	b.mu.Lock()
	sg = b.sg.Load()
	if sg>>genShift != gen {
		b.mu.Unlock()
		return
	}
	switch State(sg & stateMask) {
	case StateClosed:
		if o == outcomeIgnored {
			break
		}
		var slot int64
		if pol.ratio > 0 {
			slot = b.set.nanos() / pol.bucketWidth
			b.win.add(slot, o == outcomeFailure)
		}
		if o == outcomeSuccess {
			b.consecutive.Store(0)
			break
		}
		c := b.consecutive.Add(1)
		trip := pol.consecutive > 0 && c >= pol.consecutive
		if !trip && pol.ratio > 0 {
			total, fails := b.win.sum(slot)
			trip = total >= pol.minRequests && float64(fails) >= pol.ratio*float64(total)
		}
		if trip {
			b.openLocked(sg)
			tr = transition{StateClosed, StateOpen}
		}
	case StateHalfOpen:
		b.inflight--
		switch o {
		case outcomeFailure:
			b.openLocked(sg)
			tr = transition{StateHalfOpen, StateOpen}
		case outcomeSuccess:
			b.successes++
			if b.successes >= pol.probes {
				b.setStateLocked(sg, StateClosed)
				tr = transition{StateHalfOpen, StateClosed}
			}
		}
	}
	b.mu.Unlock()
	b.fire(tr)
}

// openLocked opens the breaker for OpenTimeout. b.mu must be held.
func (b *breaker) openLocked(sg uint64) {
	b.openUntil.Store(b.set.nanos() + b.set.pol.openTimeout)
	b.setStateLocked(sg, StateOpen)
}

// setStateLocked moves to state st in a new generation and resets the
// counters. b.mu must be held.
func (b *breaker) setStateLocked(sg uint64, st State) uint64 {
	b.consecutive.Store(0)
	b.win = window{}
	b.inflight, b.successes = 0, 0
	sg = (sg>>genShift+1)<<genShift | uint64(st)
	b.sg.Store(sg)
	return sg
}

// fire reports a state change to telemetry and the hook; b.mu must not be
// held.
func (b *breaker) fire(tr transition) {
	if tr.from == tr.to {
		return
	}
	b.set.tel.breakerTransition(context.Background(), tr.to)
	if f := b.set.pol.onStateChange; f != nil {
		f(b.host, tr.from, tr.to)
	}
}

// evictClass ranks b for eviction at time now (set.nanos): 0 for a closed
// breaker without failures, 1 for another closed breaker, 2 for an open
// breaker past its timeout, -1 for a breaker that must be kept.
func (b *breaker) evictClass(now int64) int {
	sg := b.sg.Load()
	switch State(sg & stateMask) {
	case StateClosed:
		if b.consecutive.Load() > 0 {
			return 1
		}
		if b.set.pol.ratio > 0 {
			b.mu.Lock()
			_, fails := b.win.sum(now / b.set.pol.bucketWidth)
			b.mu.Unlock()
			if fails > 0 {
				return 1
			}
		}
		return 0
	case StateOpen:
		if now >= b.openUntil.Load() {
			return 2
		}
	}
	return -1
}

// window counts outcomes in a ring of buckets, one per bucket-width slot of
// time.
type window struct {
	buckets [windowBuckets]struct{ slot, total, fails int64 }
}

func (w *window) add(slot int64, fail bool) {
	k := &w.buckets[uint64(slot)%windowBuckets]
	if k.slot != slot || k.total == 0 {
		k.slot, k.total, k.fails = slot, 0, 0
	}
	k.total++
	if fail {
		k.fails++
	}
}

func (w *window) sum(slot int64) (total, fails int64) {
	for i := range w.buckets {
		k := &w.buckets[i]
		if k.total > 0 && k.slot > slot-windowBuckets && k.slot <= slot {
			total += k.total
			fails += k.fails
		}
	}
	return total, fails
}

// lowerASCII lower-cases s without allocating when it has no upper-case
// ASCII letter (the common case for hosts).
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
