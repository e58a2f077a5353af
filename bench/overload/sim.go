// Package overload is the overload simulation of chassis's BENCHMARKS.md:
// one model of a saturated server, the same for every contender (no
// protection, a fixed bulkhead, chassis's overload.Limiter with each
// algorithm, failsafe-go's adaptive limiter, kratos BBR and go-zero's
// shedder), run at several multiples of the server's capacity.
//
// # The model
//
// A server resource has Slots slots (a connection pool, worker threads);
// each request holds one for a service time drawn from a log-normal
// distribution (median 18ms, σ 0.5: mean ≈ 20.4ms, p99 ≈ 58ms), so the
// capacity is Slots / mean ≈ 980 requests/s with the defaults. Requests
// that find every slot busy wait in a FIFO queue in front of the resource,
// so latency grows with queueing. Arrivals are open-loop (Poisson at a
// multiple of the capacity): clients do not slow down when the server does.
// Each client gives up after Timeout (its request leaves the queue if it is
// still waiting, as database/sql's pool wait does on a cancelled context;
// work already in service runs to the end). A contender sits in front of the
// resource and admits or refuses each arrival; a refused request costs
// nothing.
//
// Goodput counts responses within the SLO per second, as a share of the
// capacity. Latency percentiles are over admitted requests that completed
// (timed-out requests count at their timeout). Only the measured part of
// the run, after a warm-up, is counted.
//
// # Clocks
//
// [Run] with Virtual set is a discrete-event simulation on a virtual clock:
// deterministic for a seed, and seconds of simulated load take milliseconds.
// Contenders that read the wall clock themselves (kratos BBR, go-zero, and
// failsafe-go's limiter, whose clock is not injectable) cannot be driven
// that way; failsafe-go can, by setting its permits' start time and clock
// (see the failsafe contender). With Virtual false the same event loop runs
// in real time: it sleeps until each event is due, and every contender
// reads the wall clock.
package overload

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Params configures a run. Zero fields mean the defaults in brackets.
type Params struct {
	Slots    int           // server slots [20]
	Median   time.Duration // median service time [18ms]
	Sigma    float64       // log-normal σ of the service time [0.5]
	Load     float64       // arrivals as a multiple of capacity [1]
	Duration time.Duration // measured run [10s]
	Warmup   time.Duration // unmeasured start [2s]
	Timeout  time.Duration // client timeout [1s]
	SLO      time.Duration // goodput counts responses within it [150ms]
	Seed     uint64
	Virtual  bool // discrete-event simulation on a virtual clock
}

func (p Params) withDefaults() Params {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if p.Slots == 0 {
		p.Slots = 20
	}
	if p.Sigma == 0 {
		p.Sigma = 0.5
	}
	if p.Load == 0 {
		p.Load = 1
	}
	def(&p.Median, 18*time.Millisecond)
	def(&p.Duration, 10*time.Second)
	def(&p.Warmup, 2*time.Second)
	def(&p.Timeout, time.Second)
	def(&p.SLO, 150*time.Millisecond)
	return p
}

// Capacity returns the server's capacity in requests per second.
func (p Params) Capacity() float64 {
	p = p.withDefaults()
	mean := float64(p.Median) * math.Exp(p.Sigma*p.Sigma/2)
	return float64(p.Slots) / (mean / float64(time.Second))
}

// Result is one contender's run at one load.
type Result struct {
	Contender string
	Load      float64
	Goodput   float64 // responses within the SLO per second / capacity
	P50, P99  time.Duration
	Rejected  float64 // share of arrivals refused by the contender
	TimedOut  float64 // share of arrivals admitted whose client gave up
}

// Contender admits or refuses work in front of the resource.
type Contender interface {
	Name() string
	// Admit is called at each arrival, at now (the virtual or the wall
	// clock), with the client's deadline. It returns whether the request
	// may go on and, if so, the function to call when it ends: ok is
	// false when the client timed out.
	Admit(now, deadline time.Time) (done func(now time.Time, ok bool), admitted bool)
}

type request struct {
	arrive, start int64 // ns since the run's start; start < 0 while queued
	svc           int64
	done          func(time.Time, bool)
	finished      bool
}

type event struct {
	t    int64
	kind uint8 // arrive, complete, timeout
	r    *request
}

const (
	evArrive = iota
	evComplete
	evTimeout
)

type events []event

func (e events) Len() int           { return len(e) }
func (e events) Less(i, j int) bool { return e[i].t < e[j].t }
func (e events) Swap(i, j int)      { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)        { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

// VirtualClock is the simulation's clock for contenders that take one.
type VirtualClock struct{ t time.Time }

// Now returns the simulated time.
func (c *VirtualClock) Now() time.Time { return c.t }

// Run runs c under p. With p.Virtual, clk is advanced by the simulation
// and must be the clock c was built with; otherwise clk is unused.
func Run(p Params, c Contender, clk *VirtualClock) Result {
	p = p.withDefaults()
	rng := rand.New(rand.NewPCG(p.Seed, 0x5eed))
	rate := p.Load * p.Capacity() // per second
	end := int64(p.Warmup + p.Duration)
	warm := int64(p.Warmup)
	t0 := time.Now()
	if p.Virtual {
		t0 = clk.t
	}
	at := func(ns int64) time.Time { return t0.Add(time.Duration(ns)) }

	var (
		q        events
		waiting  []*request // FIFO in front of the resource
		busy     int
		lat      []int64
		arrivals int
		rejected int
		timedOut int
		good     int
	)
	interarrival := func() int64 { return int64(rng.ExpFloat64() / rate * float64(time.Second)) }
	heap.Push(&q, event{t: interarrival(), kind: evArrive})
	measured := func(r *request) bool { return r.arrive >= warm }
	finish := func(r *request, now int64, ok bool) {
		r.finished = true
		l := now - r.arrive
		if r.done != nil {
			r.done(at(now), ok)
		}
		if !measured(r) {
			return
		}
		if !ok {
			timedOut++
			l = int64(p.Timeout)
		} else if l <= int64(p.SLO) {
			good++
		}
		lat = append(lat, l)
	}
	startService := func(r *request, now int64) {
		busy++
		r.start = now
		heap.Push(&q, event{t: now + r.svc, kind: evComplete, r: r})
	}

	for q.Len() > 0 {
		ev := heap.Pop(&q).(event)
		if ev.t >= end && ev.kind == evArrive {
			continue // no new arrivals; drain the rest
		}
		now := ev.t
		if p.Virtual {
			clk.t = at(now)
		} else if d := time.Until(at(now)); d > 0 {
			time.Sleep(d)
		}
		switch ev.kind {
		case evArrive:
			heap.Push(&q, event{t: now + interarrival(), kind: evArrive})
			r := &request{arrive: now, start: -1,
				svc: int64(float64(p.Median) * math.Exp(p.Sigma*rng.NormFloat64()))}
			if r.arrive >= warm {
				arrivals++
			}
			wall := at(now)
			if !p.Virtual {
				wall = time.Now()
			}
			done, ok := c.Admit(wall, at(now+int64(p.Timeout)))
			if !ok {
				if measured(r) {
					rejected++
				}
				continue
			}
			r.done = done
			heap.Push(&q, event{t: now + int64(p.Timeout), kind: evTimeout, r: r})
			if busy < p.Slots {
				startService(r, now)
			} else {
				waiting = append(waiting, r)
			}
		case evComplete:
			busy--
			r := ev.r
			if !r.finished {
				finish(r, now, now-r.arrive <= int64(p.Timeout))
			}
			for len(waiting) > 0 && busy < p.Slots {
				next := waiting[0]
				waiting = waiting[1:]
				if !next.finished {
					startService(next, now)
				}
			}
		case evTimeout:
			r := ev.r
			if r.start < 0 && !r.finished { // still queued: the client leaves
				finish(r, now, false)
			}
		}
	}
	slices.Sort(lat)
	pct := func(f float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return time.Duration(lat[min(len(lat)-1, int(f*float64(len(lat))))])
	}
	n := float64(max(arrivals, 1))
	return Result{
		Contender: c.Name(),
		Load:      p.Load,
		Goodput:   float64(good) / p.Duration.Seconds() / p.Capacity(),
		P50:       pct(0.50),
		P99:       pct(0.99),
		Rejected:  float64(rejected) / n,
		TimedOut:  float64(timedOut) / n,
	}
}

// NewVirtualClock returns a clock reading t.
func NewVirtualClock(t time.Time) *VirtualClock { return &VirtualClock{t: t} }
