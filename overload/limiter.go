package overload

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Config configures a [Limiter]. The zero Config is usable: the Gradient
// algorithm between 1 and 1000, starting at 20, with no queue. NewLimiter
// copies the Config.
type Config struct {
	// Algorithm moves the limit. The zero value is [Gradient]().
	Algorithm Algorithm

	// MinLimit is the floor of the limit: no algorithm cuts below it. Zero
	// means 1. Negative is invalid.
	MinLimit int

	// MaxLimit is the ceiling of the limit. Zero means 1000. Negative, or
	// less than MinLimit, is invalid.
	MaxLimit int

	// InitialLimit is the limit before the first sample. Zero means 20,
	// brought within [MinLimit, MaxLimit]. Negative, or outside [MinLimit,
	// MaxLimit], is invalid.
	InitialLimit int

	// MaxQueue is how many callers may wait in Acquire for a unit of the
	// limit, across all priorities. Zero means no queue: Acquire refuses at
	// once when the limit is reached. Negative is invalid.
	MaxQueue int

	// MaxWait bounds a caller's wait in the queue; the wait also ends early
	// enough for the caller's deadline to cover the expected service time.
	// Zero means 100ms. Negative is invalid. It is unused when MaxQueue is 0.
	MaxWait time.Duration

	// Name is the value of the chassis.overload.name metric attribute and
	// of Status.Name, to tell several limiters apart. Empty means
	// "default".
	Name string

	// Clock is the time source for latency samples, deadlines and the
	// baseline's expiry. Nil means time.Now. Queue waits use real timers.
	Clock func() time.Time

	// MeterProvider receives the limiter's metrics (chassis.overload.limit,
	// .inflight, .queued and .rejections; see docs/metrics.md). Nil means
	// otel.GetMeterProvider() when NewLimiter is called.
	MeterProvider metric.MeterProvider
}

const (
	defaultMinLimit     = 1
	defaultMaxLimit     = 1000
	defaultInitialLimit = 20
	defaultMaxWait      = 100 * time.Millisecond
)

// Outcome is what admitted work came to, given to [Ticket.Done]. The zero
// Outcome is Ignored, which teaches the limiter nothing.
type Outcome uint8

// Outcomes.
const (
	// Ignored: the work ended without telling anything about the
	// protected resource's capacity, typically because the caller gave up
	// (its context was cancelled) or the work failed before reaching the
	// resource. Its latency is not sampled: a cancelled request's short
	// latency would otherwise pull the limit up.
	Ignored Outcome = iota
	// Success: the work completed; its latency is sampled.
	Success
	// Dropped: the work completed but showed overload (a timeout, a 503, a
	// deadline exceeded inside the resource). Its latency is sampled and
	// the window it falls in cuts the limit.
	Dropped
)

// String returns "ignored", "success" or "dropped".
func (o Outcome) String() string {
	switch o {
	case Ignored:
		return "ignored"
	case Success:
		return "success"
	case Dropped:
		return "dropped"
	}
	return "unknown"
}

// Limiter is an adaptive concurrency limit: it admits work while the number
// of units in flight is below its limit (less the headroom kept for higher
// priorities, see [Priority]), and moves the limit with the latency of the
// work it admitted (see [Algorithm]). Build one with [NewLimiter]; the zero
// Limiter is not usable. A Limiter is safe for concurrent use.
type Limiter struct {
	inflight atomic.Int64
	limit    atomic.Int64
	queued   atomic.Int64
	baseline atomic.Int64 // ns; the service-time estimate for deadline refusal, 0 = unknown

	rejected [numReasons][numPriorities]atomic.Int64
	errs     [numReasons][numPriorities]OverloadError // shared, read-only

	win window
	smu sync.Mutex // guards ctl; held only to close a window
	ctl controller

	qmu      sync.Mutex // guards queues
	queues   [numPriorities]waitList
	maxQueue int
	maxWait  time.Duration

	name    string
	algo    Algorithm
	clock   func() time.Time // nil: time.Now
	epoch   time.Time
	tickets sync.Pool
	metrics *metrics

	// newTimer starts the queue-wait timer; tests replace it.
	newTimer func(d time.Duration) (<-chan time.Time, func() bool)
	// onWait, if non-nil, is called when a caller has joined the queue,
	// with no lock held; tests use it to order their callers.
	onWait func()
}

// NewLimiter returns a Limiter configured by cfg (see [Config] for the
// defaults). If the MeterProvider is a real one, the limiter registers a
// metrics callback: call [Limiter.Close] when a limiter is discarded before
// the process ends.
//
// Panics if a field of cfg is invalid, naming the field.
func NewLimiter(cfg Config) *Limiter {
	if msg := cfg.problem(); msg != "" {
		panic("overload.NewLimiter: " + msg)
	}
	minL, maxL, initL := cfg.MinLimit, cfg.MaxLimit, cfg.InitialLimit
	if minL == 0 {
		minL = defaultMinLimit
	}
	if maxL == 0 {
		maxL = max(defaultMaxLimit, minL)
	}
	if initL == 0 {
		initL = min(max(defaultInitialLimit, minL), maxL)
	}
	if cfg.Algorithm.kind == kindFixed {
		minL, maxL, initL = cfg.Algorithm.fixed, cfg.Algorithm.fixed, cfg.Algorithm.fixed
	}
	l := &Limiter{
		ctl: controller{
			kind: cfg.Algorithm.kind,
			minL: float64(minL), maxL: float64(maxL), limit: float64(initL),
		},
		maxQueue: cfg.MaxQueue,
		maxWait:  cfg.MaxWait,
		name:     cfg.Name,
		algo:     cfg.Algorithm,
		clock:    cfg.Clock,
		newTimer: func(d time.Duration) (<-chan time.Time, func() bool) {
			t := time.NewTimer(d)
			return t.C, t.Stop
		},
	}
	if l.maxWait == 0 {
		l.maxWait = defaultMaxWait
	}
	if l.name == "" {
		l.name = "default"
	}
	if l.clock == nil {
		l.epoch = time.Now()
	} else {
		l.epoch = l.clock()
	}
	l.tickets.New = func() any { return new(Ticket) }
	l.limit.Store(int64(initL))
	l.win.size.Store(l.ctl.windowSize())
	for r := range numReasons {
		for i := range numPriorities {
			l.errs[r][i] = OverloadError{Reason: Reason(r), Priority: Priority(i - 1)}
		}
	}
	l.metrics = newMetrics(cfg.MeterProvider, l)
	return l
}

func (c Config) problem() string {
	switch {
	case c.MinLimit < 0:
		return "cfg.MinLimit is negative (" + strconv.Itoa(c.MinLimit) + "); use 0 for the default 1"
	case c.MaxLimit < 0:
		return "cfg.MaxLimit is negative (" + strconv.Itoa(c.MaxLimit) + "); use 0 for the default 1000"
	case c.MaxLimit > 0 && c.MaxLimit < max(c.MinLimit, 1):
		return "cfg.MaxLimit " + strconv.Itoa(c.MaxLimit) + " is less than cfg.MinLimit " + strconv.Itoa(c.MinLimit) + "; raise MaxLimit or lower MinLimit"
	case c.InitialLimit < 0:
		return "cfg.InitialLimit is negative (" + strconv.Itoa(c.InitialLimit) + "); use 0 for the default 20"
	case c.InitialLimit > 0 && (c.InitialLimit < c.MinLimit || (c.MaxLimit > 0 && c.InitialLimit > c.MaxLimit)):
		return "cfg.InitialLimit " + strconv.Itoa(c.InitialLimit) + " is outside [cfg.MinLimit, cfg.MaxLimit]; bring it within the bounds or use 0"
	case c.MaxQueue < 0:
		return "cfg.MaxQueue is negative (" + strconv.Itoa(c.MaxQueue) + "); use 0 for no queue"
	case c.MaxWait < 0:
		return "cfg.MaxWait is negative (" + c.MaxWait.String() + "); use 0 for the default 100ms"
	}
	return ""
}

// Ticket is one admitted unit of work. Call [Ticket.Done] exactly once when
// the work ends.
type Ticket struct {
	l        *Limiter
	start    int64 // clock ns since l.epoch, at admission
	inflight int64 // units in flight right after this admission
}

// Done ends the work the Ticket admitted and frees its unit of the limit,
// which lets the first queued caller in (see [Priority] for the order). A
// Success or Dropped outcome adds the work's latency (from admission to
// Done) to the limiter's samples; Ignored adds nothing.
//
// Call Done exactly once per Ticket, typically in a defer. The Ticket is
// recycled by Done, so do not keep it: a second Done on the same Ticket
// panics if the limiter has not reused it yet, and would release another
// caller's unit if it has. Done on a nil Ticket does nothing. A Ticket
// that is never done keeps its unit forever.
func (t *Ticket) Done(o Outcome) {
	if t == nil {
		return
	}
	l := t.l
	if l == nil {
		panic("overload: Ticket.Done called twice; call it exactly once per admitted Acquire")
	}
	t.l = nil
	if o == Success || o == Dropped {
		now := l.now()
		if l.win.add(now-t.start, t.inflight, o == Dropped) {
			l.closeWindow(now)
		}
	}
	l.inflight.Add(-1)
	l.tickets.Put(t)
	if l.queued.Load() > 0 {
		l.qmu.Lock()
		l.dispatchLocked()
		l.qmu.Unlock()
	}
}

// closeWindow closes the full window under smu and publishes the new limit
// and baseline. A Done that finds smu held leaves the window to the holder
// (or to the next Done), so no Done waits for another.
func (l *Limiter) closeWindow(now int64) {
	if !l.smu.TryLock() {
		return
	}
	if l.ctl.close(&l.win, now) {
		l.limit.Store(int64(math.Round(l.ctl.limit)))
		l.baseline.Store(l.ctl.baseline())
	}
	l.smu.Unlock()
}

// now returns the clock in ns since l.epoch. With the default clock this
// reads the monotonic clock only, the cheapest time source.
func (l *Limiter) now() int64 {
	if l.clock == nil {
		return int64(time.Since(l.epoch))
	}
	return int64(l.clock().Sub(l.epoch))
}

// remaining returns the time left before dl.
func (l *Limiter) remaining(dl time.Time) time.Duration {
	if l.clock == nil {
		return time.Until(dl)
	}
	return dl.Sub(l.clock())
}

// Acquire asks for one unit of the limit for work of priority p (an
// unknown Priority counts as Default). It returns a Ticket when the work is
// admitted; the caller does the work and then calls [Ticket.Done] exactly
// once. Otherwise it returns an error and a nil Ticket, and the work must
// not be started:
//
//   - ctx.Err() unchanged if ctx is done before admission (also while
//     queued); this is not counted as a rejection.
//   - an *[OverloadError] (errors.Is ErrOverloaded) if the limiter refuses
//     the work: see [Reason]. Work whose ctx deadline leaves less time than
//     the limiter's estimate of the service time (the baseline latency,
//     once known) is refused at once with ReasonDeadline.
//
// When the limit is reached and Config.MaxQueue > 0, Acquire waits in a
// bounded queue, at most Config.MaxWait and never so long that the
// remaining deadline could no longer cover the service time. A caller
// whose ctx ends while queued leaves the queue at once, freeing its place.
// Acquire starts no goroutine; the admit path allocates nothing and takes
// no lock while nobody is queued.
func (l *Limiter) Acquire(ctx context.Context, p Priority) (*Ticket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pi := p.index()
	remain := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		remain = max(l.remaining(dl), 0)
		if est := time.Duration(l.baseline.Load()); remain == 0 || remain < est {
			return nil, l.reject(ReasonDeadline, pi)
		}
	}
	if l.queued.Load() == 0 {
		if n, ok := l.tryAdmit(pi); ok {
			return l.ticket(n), nil
		}
		if l.maxQueue == 0 {
			return nil, l.reject(ReasonLimit, pi) // no queue: refuse without a lock
		}
	}
	return l.wait(ctx, pi, remain)
}

// tryAdmit takes a unit if fewer than the priority's threshold are in
// flight, and returns the count after taking it.
func (l *Limiter) tryAdmit(pi int) (int64, bool) {
	thr := threshold(l.limit.Load(), pi)
	for {
		n := l.inflight.Load()
		if n >= thr {
			return n, false
		}
		if l.inflight.CompareAndSwap(n, n+1) {
			return n + 1, true
		}
	}
}

func (l *Limiter) ticket(inflight int64) *Ticket {
	t := l.tickets.Get().(*Ticket)
	t.l, t.start, t.inflight = l, l.now(), inflight
	return t
}

func (l *Limiter) reject(r Reason, pi int) error {
	l.rejected[r][pi].Add(1)
	return &l.errs[r][pi]
}

// Limit returns the current limit, within [MinLimit, MaxLimit].
func (l *Limiter) Limit() int { return int(l.limit.Load()) }

// InFlight returns the number of admitted units not yet done. It may
// briefly exceed Limit after the limit was cut: work in flight is never
// interrupted.
func (l *Limiter) InFlight() int { return int(l.inflight.Load()) }

// Status is a snapshot of a [Limiter], for an operator's status page. It
// marshals to JSON with priorities and reasons by name.
type Status struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Limit     int    `json:"limit"`
	InFlight  int    `json:"in_flight"`
	Queued    int    `json:"queued"`
	// Baseline is the latency the adaptive algorithms compare against and
	// the service-time estimate behind deadline refusals; zero until the
	// first window of samples closed.
	Baseline time.Duration `json:"baseline_ns"`
	// Rejected counts refusals since NewLimiter by priority and reason;
	// only non-zero counts are present.
	Rejected map[Priority]map[Reason]int64 `json:"rejected"`
}

// Status returns a snapshot of the limiter. The counts are read one by
// one, so under load they may not add up exactly.
func (l *Limiter) Status() Status {
	s := Status{
		Name:      l.name,
		Algorithm: l.algo.String(),
		Limit:     l.Limit(),
		InFlight:  l.InFlight(),
		Queued:    int(l.queued.Load()),
		Baseline:  time.Duration(l.baseline.Load()),
		Rejected:  map[Priority]map[Reason]int64{},
	}
	for r := range numReasons {
		for i := range numPriorities {
			if n := l.rejected[r][i].Load(); n > 0 {
				p := Priority(i - 1)
				if s.Rejected[p] == nil {
					s.Rejected[p] = map[Reason]int64{}
				}
				s.Rejected[p][Reason(r)] = n
			}
		}
	}
	return s
}

// Close unregisters the limiter's metrics callback, so a discarded limiter
// can be garbage collected. The limiter keeps working; only its metrics
// stop. Close is idempotent.
func (l *Limiter) Close() { l.metrics.unregister() }

// MarshalText returns the Priority's String, so that it names JSON keys.
func (p Priority) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// MarshalText returns the Reason's String, so that it names JSON keys.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }
