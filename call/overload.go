package call

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/metric/noop"

	"github.com/chassis-go/chassis/overload"
)

// OverloadPolicy configures the client-side concurrency limits of a Client:
// one [overload.Limiter] per destination host (URL.Host, compared
// case-insensitively), created on first use and owned by the Client. An
// attempt the host's limiter refuses is not sent: Client.Do fails at once
// with an error that matches [overload.ErrOverloaded] and names the host,
// and it is not retried (the same host would refuse it again) and spends
// no retry budget. The zero OverloadPolicy is the default: a Gradient
// limiter per host between 1 and 1000 in flight, no queue, at most 1024
// hosts. [WithOverload] copies it.
type OverloadPolicy struct {
	// Limiter configures each host's limiter (see [overload.Config]); zero
	// fields mean overload's defaults. A nil Clock or MeterProvider means
	// the Client's (WithClock, WithMeterProvider); Name is set to the host.
	// A queue (MaxQueue) makes an attempt wait for a unit, bounded by the
	// request's deadline; without one, a busy host fails fast.
	Limiter overload.Config

	// Priority, if non-nil, returns the priority of a request (for example
	// Sheddable for prefetches). Nil means overload.Default. It is called
	// once per attempt, on the goroutine that called Do, and must not block.
	Priority func(*http.Request) overload.Priority

	// MaxHosts bounds the number of limiters a Client keeps. When a new host
	// needs one and the set is full, the idle limiters (nothing in flight)
	// used least recently are closed, about MaxHosts/8 of them; if none is
	// idle, the new host is served without a limiter until one is. Zero
	// means 1024. Negative panics.
	MaxHosts int
}

// WithOverload gives the Client an adaptive concurrency limit per
// destination host, configured by p (see [OverloadPolicy]), so that it
// stops piling requests on a dependency that slows down. Without this
// option a Client has no limits. Panics if p or p.Limiter is invalid.
//
// Each attempt (hedges included) takes a unit of its host's limit after
// the breaker let it through and before the token is fetched; the unit is
// released when the attempt's response headers arrive or it fails. The
// limiter learns from the attempt's latency to its response headers: a
// per-attempt timeout, 429, 503 or 504 is Dropped (overload seen), an
// attempt cut short by the caller's context or failing before any response
// (connection refused, DNS) teaches nothing, anything else is a Success.
// A refusal counts as neither success nor failure for the breaker.
func WithOverload(p OverloadPolicy) Option {
	if p.MaxHosts < 0 {
		panic("call.WithOverload: MaxHosts is negative; use 0 for the default 1024")
	}
	overload.NewLimiter(p.Limiter).Close() // panics now on an invalid Config
	return func(o *options) { o.overload = &p }
}

// limiterSet is a Client's bounded set of per-host limiters.
type limiterSet struct {
	pol   OverloadPolicy
	max   int
	mu    sync.RWMutex
	m     map[string]*hostLimiter
	clock atomic.Int64 // logical time for least-recently-used eviction
	// closed is set by close: limiters made from then on report no
	// metrics, so nothing is registered that nobody will unregister.
	closed bool
}

type hostLimiter struct {
	l       *overload.Limiter
	lastUse atomic.Int64
}

func newLimiterSet(p OverloadPolicy, o *options) *limiterSet {
	if p.Limiter.Clock == nil {
		p.Limiter.Clock = o.now
	}
	if p.Limiter.MeterProvider == nil {
		p.Limiter.MeterProvider = o.mp
	}
	n := p.MaxHosts
	if n == 0 {
		n = 1024
	}
	return &limiterSet{pol: p, max: n, m: map[string]*hostLimiter{}}
}

// acquire takes a unit of req's host limit. It returns a nil Ticket (and
// no error) when the host has no limiter because the set is full of busy
// ones.
func (s *limiterSet) acquire(ctx context.Context, req *http.Request) (*overload.Ticket, error) {
	h := s.get(req.URL.Host)
	if h == nil {
		return nil, nil
	}
	p := overload.Default
	if s.pol.Priority != nil {
		p = s.pol.Priority(req)
	}
	t, err := h.l.Acquire(ctx, p)
	if err != nil && ctx.Err() == nil {
		err = &finalError{fmt.Errorf("call: %s: %w", req.URL.Host, err)}
	}
	return t, err
}

func (s *limiterSet) get(host string) *hostLimiter {
	key := lowerASCII(host)
	s.mu.RLock()
	h := s.m[key]
	s.mu.RUnlock()
	if h == nil {
		s.mu.Lock()
		if h = s.m[key]; h == nil {
			if len(s.m) >= s.max {
				s.evictLocked()
			}
			if len(s.m) >= s.max {
				s.mu.Unlock()
				return nil
			}
			cfg := s.pol.Limiter
			cfg.Name = key
			if s.closed {
				cfg.MeterProvider = noop.NewMeterProvider()
			}
			h = &hostLimiter{l: overload.NewLimiter(cfg)}
			s.m[key] = h
		}
		s.mu.Unlock()
	}
	h.lastUse.Store(s.clock.Add(1))
	return h
}

// close unregisters every limiter's metrics; the limiters keep working.
func (s *limiterSet) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, h := range s.m {
		h.l.Close()
	}
}

// evictLocked closes and drops about max/8 idle limiters, least recently
// used first. An idle limiter's state (its learned limit) is lost; a host
// that comes back starts again from the initial limit.
func (s *limiterSet) evictLocked() {
	var idle []string
	for k, h := range s.m {
		if h.l.InFlight() == 0 {
			idle = append(idle, k)
		}
	}
	slices.SortFunc(idle, func(a, b string) int { return int(s.m[a].lastUse.Load() - s.m[b].lastUse.Load()) })
	for _, k := range idle[:min(len(idle), max(s.max/8, 1))] {
		s.m[k].l.Close()
		delete(s.m, k)
	}
}

// overloadOutcome classifies an attempt for its host's limiter.
func overloadOutcome(ctx context.Context, resp *http.Response, err error) overload.Outcome {
	switch {
	case ctx.Err() != nil:
		return overload.Ignored // the caller gave up
	case errors.Is(err, ErrAttemptTimeout):
		return overload.Dropped
	case err != nil:
		return overload.Ignored // no response: says nothing about latency
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return overload.Dropped
	}
	return overload.Success
}
