package call

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chassis-go/chassis/breaker"
)

// ErrCircuitOpen is matched (with errors.Is) by the error Client.Do returns,
// without sending the request or asking the token source for a token, while
// the destination host's breaker is open, or half-open with all its probes
// in flight. The error names the host.
var ErrCircuitOpen = errors.New("call: circuit open")

// State is the state of a circuit breaker: an alias of [breaker.State], so
// that a Client's breakers and standalone ones read alike. The zero State
// is StateClosed. Its String method returns "closed", "open" or
// "half_open" (the values of the chassis.breaker.state metric attribute).
type State = breaker.State

// Breaker states.
const (
	// StateClosed lets every request through and counts failures.
	StateClosed = breaker.StateClosed
	// StateOpen rejects every request with ErrCircuitOpen until
	// BreakerPolicy.OpenTimeout has passed.
	StateOpen = breaker.StateOpen
	// StateHalfOpen lets BreakerPolicy.HalfOpenProbes requests through at a
	// time and rejects the others: as many successes close the breaker,
	// any failure opens it again.
	StateHalfOpen = breaker.StateHalfOpen
)

// BreakerPolicy configures the circuit breakers of a Client: one per
// destination host (URL.Host, compared case-insensitively), created on
// first use and owned by the Client. There is no global registry.
//
// Each host's breaker is a [breaker.Breaker]: the first six fields mean
// exactly what the fields of the same names in [breaker.Policy] mean (when
// it opens, how long it stays open, how many half-open probes), and
// invalid values panic in [WithBreaker] with the same messages.
//
// The breaker is consulted for every attempt, retries and hedges included,
// before the token source or the network is touched. An outcome is a
// failure when IsFailure says so: by default any error (per-attempt
// timeouts included) or a 5xx status; 4xx statuses are successes. An
// attempt cut short because the caller's own context ended is neither: it
// never trips a breaker, and a half-open probe cut short that way frees its
// slot. A panic in the base transport or IsFailure counts as a failure; a
// panic before the request is sent (GetBody, OnStateChange) frees the slot.
//
// The zero BreakerPolicy is the default: open after 5 consecutive failures,
// probe once after 30s, at most 1024 hosts. A BreakerPolicy is a plain
// value: [WithBreaker] copies it.
type BreakerPolicy struct {
	// ConsecutiveFailures: see [breaker.Policy]. Zero means 5.
	ConsecutiveFailures int
	// FailureRatio: see [breaker.Policy]. Zero disables it.
	FailureRatio float64
	// MinRequests: see [breaker.Policy]. Zero means 10.
	MinRequests int
	// Window: see [breaker.Policy]. Zero means 10s.
	Window time.Duration
	// OpenTimeout: see [breaker.Policy]. Zero means 30s.
	OpenTimeout time.Duration
	// HalfOpenProbes: see [breaker.Policy]. Zero means 1.
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

const defaultMaxHosts = 1024

// policy returns the standalone breaker's part of p, for a breaker that
// calls hook on state changes and reads the clock now.
func (p BreakerPolicy) policy(now func() time.Time, hook func(from, to State)) breaker.Policy {
	return breaker.Policy{
		ConsecutiveFailures: p.ConsecutiveFailures,
		FailureRatio:        p.FailureRatio,
		MinRequests:         p.MinRequests,
		Window:              p.Window,
		OpenTimeout:         p.OpenTimeout,
		HalfOpenProbes:      p.HalfOpenProbes,
		OnStateChange:       hook,
		Clock:               now,
	}
}

func (p BreakerPolicy) validate() {
	if err := p.policy(nil, nil).Validate(); err != nil {
		panic("call.WithBreaker: " + strings.TrimPrefix(err.Error(), "breaker: "))
	}
	if p.MaxHosts < 0 {
		panic("call.WithBreaker: MaxHosts is negative; use 0 for the default 1024")
	}
}

func defaultIsFailure(resp *http.Response, err error) bool {
	return err != nil || resp.StatusCode >= 500
}

// breakerSet is a Client's bounded set of per-host breakers.
type breakerSet struct {
	pol       BreakerPolicy
	maxHosts  int
	isFailure func(*http.Response, error) bool
	now       func() time.Time
	tel       *instruments

	epoch atomic.Uint64               // bumped by every insertion; breakers' LRU stamp
	last  atomic.Pointer[hostBreaker] // the breaker most recently looked up

	mu sync.RWMutex
	m  map[string]*hostBreaker
}

// hostBreaker is one host's breaker.
type hostBreaker struct {
	*breaker.Breaker
	host    string
	openErr error         // ErrCircuitOpen naming host, built once so rejections allocate nothing
	lastUse atomic.Uint64 // set.epoch at last use
}

// openError is the error of a request rejected by host's breaker.
type openError struct{ host string }

func (e *openError) Error() string { return "call: circuit open for " + e.host }

// Is matches ErrCircuitOpen and breaker.ErrOpen.
func (e *openError) Is(target error) bool {
	return target == ErrCircuitOpen || target == breaker.ErrOpen
}

func newBreakerSet(p BreakerPolicy, now func() time.Time, tel *instruments) *breakerSet {
	s := &breakerSet{
		pol:       p,
		maxHosts:  p.MaxHosts,
		isFailure: p.IsFailure,
		now:       now,
		tel:       tel,
		m:         make(map[string]*hostBreaker),
	}
	if s.maxHosts == 0 {
		s.maxHosts = defaultMaxHosts
	}
	if s.isFailure == nil {
		s.isFailure = defaultIsFailure
	}
	return s
}

func (s *breakerSet) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

func (s *breakerSet) state(host string) State {
	key := lowerASCII(host)
	s.mu.RLock()
	b := s.m[key]
	s.mu.RUnlock()
	if b == nil {
		return StateClosed
	}
	return b.State()
}

// get returns host's breaker, creating it if needed, and marks it used. It
// returns nil when the set is full of breakers that may not be evicted.
func (s *breakerSet) get(host string) *hostBreaker {
	// Most Clients call one host: skip the map for a repeat.
	b := s.last.Load()
	if b == nil || b.host != host {
		key := lowerASCII(host)
		s.mu.RLock()
		b = s.m[key]
		s.mu.RUnlock()
		if b == nil {
			return s.add(key)
		}
		s.last.Store(b)
	}
	if e := s.epoch.Load(); b.lastUse.Load() != e {
		b.lastUse.Store(e)
	}
	return b
}

func (s *breakerSet) add(key string) *hostBreaker {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.m[key]; b != nil {
		return b
	}
	if len(s.m) >= s.maxHosts {
		s.evictLocked()
		if len(s.m) >= s.maxHosts {
			return nil
		}
	}
	b := &hostBreaker{host: key, openErr: &openError{key}}
	tel, hook := s.tel, s.pol.OnStateChange
	b.Breaker = breaker.New(s.pol.policy(s.now, func(from, to State) {
		tel.breakerTransition(context.Background(), to)
		if hook != nil {
			hook(key, from, to)
		}
	}))
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
	now := s.now()
	cands := make([]cand, 0, len(s.m))
	for k, b := range s.m {
		if c := evictClass(b.Counts(), now); c >= 0 {
			cands = append(cands, cand{k, c, b.lastUse.Load()})
		}
	}
	n := max(1, s.maxHosts/8)
	if len(cands) > n {
		slices.SortFunc(cands, func(a, b cand) int {
			if a.class != b.class {
				return a.class - b.class
			}
			return cmp.Compare(a.use, b.use)
		})
		cands = cands[:n]
	}
	for _, c := range cands {
		delete(s.m, c.key)
	}
	s.last.Store(nil) // it may have been evicted
}

// evictClass ranks a breaker for eviction at time now: 0 for a closed
// breaker without failures (it carries no information), 1 for another
// closed breaker, 2 for an open breaker past its timeout, -1 for a breaker
// that must be kept.
func evictClass(c breaker.Counts, now time.Time) int {
	switch c.State {
	case StateClosed:
		if c.ConsecutiveFailures > 0 || c.Failures > 0 {
			return 1
		}
		return 0
	case StateOpen:
		if !now.Before(c.OpenUntil) {
			return 2
		}
	}
	return -1
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
