package breaker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// ErrOpen is returned by [Breaker.Allow] and [Execute], without calling
// anything, while the breaker is open, or half-open with all its probes in
// flight.
var ErrOpen = errors.New("breaker: open")

// State is the state of a [Breaker]. The zero State is StateClosed.
type State int32

// Breaker states.
const (
	// StateClosed lets every call through and counts failures.
	StateClosed State = iota
	// StateOpen rejects every call with ErrOpen until Policy.OpenTimeout
	// has passed.
	StateOpen
	// StateHalfOpen lets Policy.HalfOpenProbes calls through at a time and
	// rejects the others: as many successes close the breaker, any failure
	// opens it again.
	StateHalfOpen
)

// String returns "closed", "open" or "half_open".
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

// Outcome is what a call let through by a [Breaker] came to. The zero
// Outcome is Ignored, which changes nothing.
type Outcome uint8

// Outcomes.
const (
	// Ignored is neither success nor failure: the caller gave up (its
	// context ended) or the call never reached the dependency. It never
	// trips a breaker, and it frees a half-open probe slot.
	Ignored Outcome = iota
	// Success resets the closed breaker's run of failures and, in the
	// half-open state, counts towards closing it.
	Success
	// Failure counts towards opening a closed breaker and reopens a
	// half-open one.
	Failure
)

// String returns "ignored", "success" or "failure".
func (o Outcome) String() string {
	switch o {
	case Ignored:
		return "ignored"
	case Success:
		return "success"
	case Failure:
		return "failure"
	}
	return "unknown"
}

// Policy configures a [Breaker]. A closed breaker opens after
// ConsecutiveFailures failures in a row, or, if FailureRatio is set, when
// at least MinRequests outcomes were recorded in the last Window and the
// share of failures among them reaches FailureRatio. After OpenTimeout it
// lets HalfOpenProbes calls through; as many successes close it, any
// failure opens it again for OpenTimeout.
//
// The zero Policy is the default: open after 5 consecutive failures, probe
// once after 30s. A Policy is a plain value: [New] copies it.
type Policy struct {
	// ConsecutiveFailures opens the breaker after that many failures in a
	// row. Zero means 5; negative disables this trigger (FailureRatio must
	// then be set).
	ConsecutiveFailures int

	// FailureRatio, in (0, 1], opens the breaker when the share of failures
	// over Window reaches it. Zero disables this trigger. Other values
	// are invalid.
	FailureRatio float64

	// MinRequests is how many outcomes Window must hold before FailureRatio
	// is applied. Zero means 10. Negative is invalid.
	MinRequests int

	// Window is the rolling window for FailureRatio, kept as 10 buckets of
	// Window/10 each. Zero means 10s. Negative values and values under
	// 10ns are invalid.
	Window time.Duration

	// OpenTimeout is how long an open breaker rejects calls before it lets
	// probes through. Zero means 30s. Negative is invalid.
	OpenTimeout time.Duration

	// HalfOpenProbes is how many calls a half-open breaker lets through at
	// a time, and how many must succeed to close it. Zero means 1.
	// Negative is invalid.
	HalfOpenProbes int

	// IsFailure, if non-nil, reports whether a non-nil error returned by
	// the function given to [Execute] is a failure; by default every error
	// is (a nil error is always a success). Return false for errors that
	// say nothing about the dependency's health, such as "not found". It
	// is called on the goroutine that called Execute, with no lock held.
	// Breaker.Allow's callers classify outcomes themselves.
	IsFailure func(err error) bool

	// OnStateChange, if non-nil, is called after each state change. It is
	// called after the breaker's lock is released, on the goroutine whose
	// call caused the change (one calling Allow, Execute or a done
	// function); it may call the breaker's methods, but it must not block,
	// as that goroutine's caller is waiting. Calls may, rarely, run
	// concurrently and out of order with each other. If it panics, the
	// panic goes on to that caller, after the breaker has released what
	// the call took.
	OnStateChange func(from, to State)

	// Clock is the time source for OpenTimeout and Window. Nil means
	// time.Now.
	Clock func() time.Time
}

const (
	defaultConsecutiveFailures = 5
	defaultMinRequests         = 10
	defaultWindow              = 10 * time.Second
	defaultOpenTimeout         = 30 * time.Second
	defaultHalfOpenProbes      = 1
	windowBuckets              = 10
)

// Validate reports the first invalid field of p, or nil. The error names
// the field and the fix. [New] panics with the same text.
func (p Policy) Validate() error {
	if msg := p.problem(); msg != "" {
		return errors.New("breaker: " + msg)
	}
	return nil
}

func (p Policy) problem() string {
	switch {
	case math.IsNaN(p.FailureRatio) || p.FailureRatio < 0 || p.FailureRatio > 1:
		return fmt.Sprintf("FailureRatio %v is outside [0, 1]; use e.g. 0.5, or 0 to disable", p.FailureRatio)
	case p.ConsecutiveFailures < 0 && p.FailureRatio == 0:
		return "ConsecutiveFailures is negative and FailureRatio is 0, so nothing opens the breaker; set one of them"
	case p.MinRequests < 0:
		return "MinRequests is negative; use 0 for the default 10"
	case p.Window < 0:
		return "Window is negative; use 0 for the default 10s"
	case p.Window > 0 && p.Window < windowBuckets:
		return "Window is shorter than 10ns; use 0 for the default 10s"
	case p.OpenTimeout < 0:
		return "OpenTimeout is negative; use 0 for the default 30s"
	case p.HalfOpenProbes < 0:
		return "HalfOpenProbes is negative; use 0 for the default 1"
	}
	return ""
}

// policy is a Policy with its defaults resolved.
type policy struct {
	consecutive   int32 // 0: trigger disabled
	ratio         float64
	minRequests   int64
	bucketWidth   int64 // ns
	openTimeout   int64 // ns
	probes        int
	isFailure     func(error) bool
	onStateChange func(from, to State)
	now           func() time.Time // nil: time.Now
}

func resolve(p Policy) policy {
	r := policy{
		ratio:         p.FailureRatio,
		minRequests:   int64(p.MinRequests),
		probes:        p.HalfOpenProbes,
		isFailure:     p.IsFailure,
		onStateChange: p.OnStateChange,
		now:           p.Clock,
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
		w = defaultWindow
	}
	r.bucketWidth = int64(w / windowBuckets)
	r.openTimeout = int64(p.OpenTimeout)
	if r.openTimeout == 0 {
		r.openTimeout = int64(defaultOpenTimeout)
	}
	if r.probes == 0 {
		r.probes = defaultHalfOpenProbes
	}
	return r // a nil now means time.Now: see Breaker.nanos
}

// Breaker is a circuit breaker: it stops calls to a failing dependency for
// a while, then lets a few probes through to learn whether it recovered.
//
// Build one with [New], one per dependency (or per host, as call does);
// the zero Breaker is not usable. A Breaker is safe for concurrent use and
// meant to be long-lived. There is no global registry: the Breaker is a
// value its owner keeps.
type Breaker struct {
	pol    policy
	origin time.Time

	// gen is the current generation: its state, and the done function
	// handed to calls let through while closed. It is replaced, under mu,
	// at every state change, so the closed path is one atomic load, and an
	// outcome recorded with a stale generation is dropped.
	gen         atomic.Pointer[generation]
	openUntil   atomic.Int64 // nanos() at which an open breaker may probe
	consecutive atomic.Int32 // consecutive failures while closed; written under mu

	mu        sync.Mutex
	win       window // outcomes while closed, if FailureRatio is set
	inflight  int    // half-open probes in flight
	successes int    // half-open probes that succeeded
}

// generation is one state of a Breaker, from one state change to the next.
type generation struct {
	n     uint64
	state State
	done  func(Outcome) // for calls let through while closed
}

// New returns a closed Breaker configured by p; zero fields take the
// defaults documented on [Policy].
// Panics if p is invalid, with the message of [Policy.Validate].
func New(p Policy) *Breaker {
	if msg := p.problem(); msg != "" {
		panic("breaker.New: " + msg)
	}
	b := &Breaker{pol: resolve(p)}
	if b.pol.now != nil {
		b.origin = b.pol.now()
	} else {
		b.origin = time.Now()
	}
	b.gen.Store(b.newGeneration(0, StateClosed))
	return b
}

func (b *Breaker) newGeneration(n uint64, st State) *generation {
	g := &generation{n: n, state: st}
	g.done = func(o Outcome) { b.record(g.n, o) }
	return g
}

// nanos returns the clock as nanoseconds since the breaker was created.
// With the default clock it is time.Since, which reads only the monotonic
// clock: an open breaker's rejection costs one such read.
func (b *Breaker) nanos() int64 {
	if b.pol.now == nil {
		return int64(time.Since(b.origin))
	}
	return int64(b.pol.now().Sub(b.origin))
}

// State returns the breaker's current state. An open breaker whose
// OpenTimeout has passed reports StateOpen until a call asks to go through
// (it then turns half-open). It may be called from OnStateChange.
func (b *Breaker) State() State { return b.gen.Load().state }

// Allow asks the breaker to let one call through. If it may go, Allow
// returns a done function that must be called exactly once with the call's
// outcome; a done function called after the breaker changed state is
// ignored. Otherwise it returns ErrOpen (and a nil done): the call must
// not be made.
//
// Allow is the two-step form of [Execute], for calls that cannot be
// wrapped in a function. A done function that is never called, as when a
// panic skips it, leaves a half-open breaker waiting for a probe that
// never ends: call done in a defer, with Failure as the value in case of a
// panic, as Execute does.
func (b *Breaker) Allow() (done func(Outcome), err error) {
	g := b.gen.Load()
	if g.state == StateClosed {
		return g.done, nil
	}
	if g.state == StateOpen && b.nanos() < b.openUntil.Load() {
		return nil, ErrOpen
	}
	return b.allowSlow()
}

// allowSlow is Allow for an open breaker past its timeout or a half-open
// one.
func (b *Breaker) allowSlow() (done func(Outcome), err error) {
	var from State
	b.mu.Lock()
	g := b.gen.Load()
	switch g.state {
	case StateClosed:
		b.mu.Unlock()
		return g.done, nil
	case StateOpen:
		if b.nanos() < b.openUntil.Load() {
			b.mu.Unlock()
			return nil, ErrOpen
		}
		g = b.setStateLocked(StateHalfOpen)
		from = StateOpen
	default:
		from = StateHalfOpen
	}
	if b.inflight >= b.pol.probes {
		b.mu.Unlock()
		b.fire(from, StateHalfOpen)
		return nil, ErrOpen
	}
	b.inflight++
	b.mu.Unlock()
	p := &probe{b: b, gen: g.n}
	// The probe slot is taken: if OnStateChange panics, free it, or the
	// half-open breaker would wait for this probe forever.
	fired := false
	defer func() {
		if !fired {
			p.done(Ignored)
		}
	}()
	b.fire(from, StateHalfOpen)
	fired = true
	return p.done, nil
}

// probe is the done function of one half-open call; it records once.
type probe struct {
	b    *Breaker
	gen  uint64
	used atomic.Bool
}

func (p *probe) done(o Outcome) {
	if p.used.CompareAndSwap(false, true) {
		p.b.record(p.gen, o)
	}
}

// record records the outcome of a call let through in generation gen.
func (b *Breaker) record(gen uint64, o Outcome) {
	g := b.gen.Load()
	if g.n != gen {
		return
	}
	pol := &b.pol
	if g.state == StateClosed {
		if o == Ignored {
			return
		}
		if o == Success && pol.ratio == 0 && b.consecutive.Load() == 0 {
			return // nothing to update: the common case takes no lock
		}
	}
	var from, to State
	b.mu.Lock()
	g = b.gen.Load()
	if g.n != gen {
		b.mu.Unlock()
		return
	}
	from, to = g.state, g.state
	switch g.state {
	case StateClosed:
		if o == Ignored {
			break
		}
		var slot int64
		if pol.ratio > 0 {
			slot = b.nanos() / pol.bucketWidth
			b.win.add(slot, o == Failure)
		}
		if o == Success {
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
			b.openLocked()
			to = StateOpen
		}
	case StateHalfOpen:
		b.inflight--
		switch o {
		case Failure:
			b.openLocked()
			to = StateOpen
		case Success:
			b.successes++
			if b.successes >= pol.probes {
				b.setStateLocked(StateClosed)
				to = StateClosed
			}
		}
	}
	b.mu.Unlock()
	b.fire(from, to)
}

// openLocked opens the breaker for OpenTimeout. b.mu must be held.
func (b *Breaker) openLocked() {
	b.openUntil.Store(b.nanos() + b.pol.openTimeout)
	b.setStateLocked(StateOpen)
}

// setStateLocked moves to state st in a new generation and resets the
// counters. b.mu must be held.
func (b *Breaker) setStateLocked(st State) *generation {
	b.consecutive.Store(0)
	b.win = window{}
	b.inflight, b.successes = 0, 0
	g := b.newGeneration(b.gen.Load().n+1, st)
	b.gen.Store(g)
	return g
}

// fire calls OnStateChange; b.mu must not be held.
func (b *Breaker) fire(from, to State) {
	if from != to && b.pol.onStateChange != nil {
		b.pol.onStateChange(from, to)
	}
}

// Counts is a snapshot of what a [Breaker] remembers, for status pages and
// for deciding which breakers carry information (call evicts those that do
// not first).
type Counts struct {
	// State is the breaker's state, as [Breaker.State] reports it.
	State State
	// ConsecutiveFailures is the current run of failures while closed.
	ConsecutiveFailures int
	// Requests and Failures are the outcomes in the failure-ratio window;
	// both are zero unless Policy.FailureRatio is set.
	Requests, Failures int64
	// OpenUntil is when an open breaker starts letting probes through; it
	// is the zero time unless State is StateOpen.
	OpenUntil time.Time
}

// Counts returns a snapshot of the breaker's state and counters. It may be
// called from OnStateChange.
func (b *Breaker) Counts() Counts {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := Counts{State: b.gen.Load().state, ConsecutiveFailures: int(b.consecutive.Load())}
	if b.pol.ratio > 0 {
		c.Requests, c.Failures = b.win.sum(b.nanos() / b.pol.bucketWidth)
	}
	if c.State == StateOpen {
		c.OpenUntil = b.origin.Add(time.Duration(b.openUntil.Load()))
	}
	return c
}

// Execute calls fn(ctx) if b allows it and records the outcome: Success
// for a nil error; Ignored if ctx has ended (the caller gave up, which says
// nothing about the dependency); otherwise Failure, or Success when
// Policy.IsFailure says the error is not a failure. While the breaker
// rejects calls, Execute returns ErrOpen at once without calling fn.
//
// fn runs on the calling goroutine; Execute returns when it does. A panic
// in fn is recorded as a Failure, releasing whatever the call took (a
// half-open probe slot), and goes on to the caller.
func Execute[T any](ctx context.Context, b *Breaker, fn func(context.Context) (T, error)) (v T, err error) {
	done, err := b.Allow()
	if err != nil {
		return v, err
	}
	o := Failure // if fn or IsFailure panics
	defer func() { done(o) }()
	v, err = fn(ctx)
	o = b.classify(ctx, err)
	return v, err
}

func (b *Breaker) classify(ctx context.Context, err error) Outcome {
	switch {
	case err == nil:
		return Success
	case ctx.Err() != nil:
		return Ignored
	case b.pol.isFailure != nil && !b.pol.isFailure(err):
		return Success
	}
	return Failure
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
