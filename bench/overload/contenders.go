package overload

import (
	"context"
	"reflect"
	"time"
	"unsafe"

	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/go-kratos/aegis/ratelimit"
	"github.com/go-kratos/aegis/ratelimit/bbr"
	"github.com/zeromicro/go-zero/core/load"
	"github.com/zeromicro/go-zero/core/logx"

	"github.com/chassis-go/chassis/overload"
)

// None admits everything.
type None struct{}

// Name returns "none".
func (None) Name() string { return "none" }

// Admit admits.
func (None) Admit(time.Time, time.Time) (func(time.Time, bool), bool) { return nil, true }

// Bulkhead is a fixed concurrency limit of N: the oracle bulkhead when N is
// the resource's slot count.
type Bulkhead struct {
	N        int
	inflight int
}

// Name returns "bulkhead".
func (b *Bulkhead) Name() string { return "fixed bulkhead (= slots)" }

// Admit admits while fewer than N are in flight.
func (b *Bulkhead) Admit(time.Time, time.Time) (func(time.Time, bool), bool) {
	if b.inflight >= b.N {
		return nil, false
	}
	b.inflight++
	return func(time.Time, bool) { b.inflight-- }, true
}

// Chassis is chassis's overload.Limiter.
type Chassis struct {
	L    *overload.Limiter
	name string
}

// NewChassis returns a chassis contender with algo; clk is the virtual
// clock, or nil for the wall clock.
func NewChassis(algo overload.Algorithm, clk *VirtualClock) *Chassis {
	cfg := overload.Config{Algorithm: algo}
	if clk != nil {
		cfg.Clock = clk.Now
	}
	return &Chassis{L: overload.NewLimiter(cfg), name: "chassis " + algo.String()}
}

// Name returns "chassis <algorithm>".
func (c *Chassis) Name() string { return c.name }

// deadlineCtx carries the client's deadline without a timer: the limiter
// reads it through Deadline only.
type deadlineCtx struct {
	context.Context
	dl time.Time
}

func (c deadlineCtx) Deadline() (time.Time, bool) { return c.dl, true }

// Admit asks the limiter, as guard.Shed does, with Default priority.
func (c *Chassis) Admit(_, deadline time.Time) (func(time.Time, bool), bool) {
	t, err := c.L.Acquire(deadlineCtx{context.Background(), deadline}, overload.Default)
	if err != nil {
		return nil, false
	}
	return func(_ time.Time, ok bool) {
		if ok {
			t.Done(overload.Success)
		} else {
			t.Done(overload.Dropped)
		}
	}, true
}

// Failsafe is failsafe-go's adaptive limiter with its defaults.
type Failsafe struct {
	l   adaptivelimiter.AdaptiveLimiter[any]
	clk *VirtualClock
}

// NewFailsafe returns the failsafe-go contender; clk is the virtual clock,
// or nil for the wall clock.
func NewFailsafe(clk *VirtualClock) *Failsafe {
	return &Failsafe{l: adaptivelimiter.NewBuilder[any]().Build(), clk: clk}
}

// Name returns "failsafe-go adaptivelimiter".
func (f *Failsafe) Name() string { return "failsafe-go adaptivelimiter" }

// Admit takes a permit without waiting (TryAcquirePermit).
func (f *Failsafe) Admit(now, _ time.Time) (func(time.Time, bool), bool) {
	p, ok := f.l.TryAcquirePermit()
	if !ok {
		return nil, false
	}
	if f.clk != nil {
		// failsafe-go v0.9.8 has no clock option: its permits read the
		// wall clock through an unexported clock field and start time.
		// Point both at the simulation's clock so that the limiter sees
		// simulated latencies (and only those).
		v := reflect.ValueOf(p).Elem()
		set := func(name string, x any) {
			f := v.FieldByName(name)
			reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(reflect.ValueOf(x))
		}
		set("clock", f.clk)
		set("startTime", now)
	}
	return func(_ time.Time, ok bool) {
		if ok {
			p.Record()
		} else {
			p.Drop()
		}
	}, true
}

// BBR is kratos's aegis BBR limiter with its defaults (CPU threshold 80%,
// read from the host every 500ms).
type BBR struct{ l *bbr.BBR }

// NewBBR returns the kratos BBR contender (wall clock only).
func NewBBR() *BBR { return &BBR{l: bbr.NewLimiter()} }

// Name returns "kratos bbr".
func (b *BBR) Name() string { return "kratos aegis bbr" }

// Admit asks Allow.
func (b *BBR) Admit(time.Time, time.Time) (func(time.Time, bool), bool) {
	done, err := b.l.Allow()
	if err != nil {
		return nil, false
	}
	return func(_ time.Time, ok bool) {
		if ok {
			done(ratelimit.DoneInfo{})
		} else {
			done(ratelimit.DoneInfo{Err: context.DeadlineExceeded})
		}
	}, true
}

// GoZero is go-zero's adaptive shedder with its defaults (CPU threshold
// 90%).
type GoZero struct{ s load.Shedder }

// NewGoZero returns the go-zero contender (wall clock only). Call
// [QuietPeers] first, or go-zero logs every drop.
func NewGoZero() *GoZero { return &GoZero{s: load.NewAdaptiveShedder()} }

// QuietPeers turns off go-zero's process-wide logging (a log line per
// dropped request, CPU statistics every minute). It changes go-zero's
// global state: call it once, from main.
func QuietPeers() {
	load.DisableLog()
	logx.Disable()
}

// Name returns "go-zero shedder".
func (g *GoZero) Name() string { return "go-zero adaptive shedder" }

// Admit asks Allow.
func (g *GoZero) Admit(time.Time, time.Time) (func(time.Time, bool), bool) {
	p, err := g.s.Allow()
	if err != nil {
		return nil, false
	}
	return func(_ time.Time, ok bool) {
		if ok {
			p.Pass()
		} else {
			p.Fail()
		}
	}, true
}
