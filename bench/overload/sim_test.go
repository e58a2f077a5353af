package overload_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/bench/overload"
	chassis "github.com/chassis-go/chassis/overload"
)

func TestMain(m *testing.M) {
	// kratos aegis and go-zero start goroutines in init functions (CPU
	// samplers; go-zero also a signal handler): ignore those, nothing else.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

func run(p overload.Params, mk func(*overload.VirtualClock) overload.Contender) overload.Result {
	p.Virtual, p.Duration, p.Warmup, p.Seed = true, 20*time.Second, 5*time.Second, 1
	clk := overload.NewVirtualClock(time.Unix(1e9, 0))
	return overload.Run(p, mk(clk), clk)
}

// TestGoal pins the goal on scenario A of the simulation: at 4x the
// capacity, chassis's default limiter keeps goodput >= 90% of capacity and
// the admitted p99 within 2x the unloaded p99, where no protection
// collapses to zero goodput.
func TestGoal(t *testing.T) {
	t.Parallel()
	a := overload.Params{Slots: 20, Sigma: 0.5, SLO: 150 * time.Millisecond}
	none := func(*overload.VirtualClock) overload.Contender { return overload.None{} }
	gradient := func(c *overload.VirtualClock) overload.Contender { return overload.NewChassis(chassis.Gradient(), c) }

	a.Load = 0.5
	unloaded := run(a, none)
	a.Load = 4
	if got := run(a, none); got.Goodput > 0.05 {
		t.Errorf("no protection at 4x: goodput %.0f%%; want the collapse the simulation exists to show", 100*got.Goodput)
	}
	got := run(a, gradient)
	if got.Goodput < 0.9 || got.P99 > 2*unloaded.P99 {
		t.Errorf("chassis gradient at 4x: goodput %.0f%%, p99 %v; want >= 90%% and <= 2 x %v", 100*got.Goodput, got.P99, unloaded.P99)
	}
}

// TestDeterministic: the virtual-clock simulation gives the same result for
// the same seed.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	p := overload.Params{Load: 2, Duration: 2 * time.Second}
	mk := func(c *overload.VirtualClock) overload.Contender { return overload.NewChassis(chassis.Gradient(), c) }
	if a, b := run(p, mk), run(p, mk); a != b {
		t.Errorf("two runs with seed 1: %+v and %+v; want equal", a, b)
	}
}
