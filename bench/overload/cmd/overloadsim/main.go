// Command overloadsim prints the overload simulation tables of
// BENCHMARKS.md: every contender at 0.5x, 1x, 2x and 4x the server's
// capacity, first on the virtual clock (the contenders that take one),
// then in real time (all of them).
//
// Usage, from bench/: go run ./overload/cmd/overloadsim [-wall=false] [-seed 1]
package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/chassis-go/chassis/bench/overload"
	chassis "github.com/chassis-go/chassis/overload"
)

func main() {
	wall := flag.Bool("wall", true, "also run the real-time simulation with every contender (about 4 minutes)")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	overload.QuietPeers()
	loads := []float64{0.5, 1, 2, 4}

	for _, sc := range scenarios {
		p := sc.p
		p.Virtual, p.Duration, p.Warmup, p.Seed = true, 20*time.Second, 5*time.Second, *seed
		fmt.Printf("## %s, virtual clock: capacity %.0f req/s, SLO %v, client timeout 1s, %v measured after %v warm-up\n\n",
			sc.name, p.Capacity(), p.SLO, p.Duration, p.Warmup)
		header()
		for _, mk := range []func(*overload.VirtualClock) overload.Contender{
			func(*overload.VirtualClock) overload.Contender { return overload.None{} },
			func(*overload.VirtualClock) overload.Contender { return &overload.Bulkhead{N: p.Slots} },
			func(c *overload.VirtualClock) overload.Contender { return overload.NewChassis(chassis.Gradient(), c) },
			func(c *overload.VirtualClock) overload.Contender { return overload.NewChassis(chassis.AIMD(), c) },
			func(c *overload.VirtualClock) overload.Contender { return overload.NewChassis(chassis.Vegas(), c) },
			func(c *overload.VirtualClock) overload.Contender { return overload.NewFailsafe(c) },
		} {
			for _, ld := range loads {
				clk := overload.NewVirtualClock(time.Now())
				p.Load = ld
				row(overload.Run(p, mk(clk), clk))
			}
		}
		fmt.Println()
	}
	if !*wall {
		return
	}
	w := scenarios[0].p
	w.Duration, w.Warmup, w.Seed = 4*time.Second, 2*time.Second, *seed
	fmt.Printf("## %s, wall clock: the same model in real time, %v measured after %v warm-up\n\n", scenarios[0].name, w.Duration, w.Warmup)
	header()
	for _, mk := range []func() overload.Contender{
		func() overload.Contender { return overload.None{} },
		func() overload.Contender { return &overload.Bulkhead{N: 20} },
		func() overload.Contender { return overload.NewChassis(chassis.Gradient(), nil) },
		func() overload.Contender { return overload.NewChassis(chassis.AIMD(), nil) },
		func() overload.Contender { return overload.NewChassis(chassis.Vegas(), nil) },
		func() overload.Contender { return overload.NewFailsafe(nil) },
		func() overload.Contender { return overload.NewBBR() },
		func() overload.Contender { return overload.NewGoZero() },
	} {
		for _, ld := range loads {
			w.Load = ld
			row(overload.Run(w, mk(), nil))
		}
	}
}

var scenarios = []struct {
	name string
	p    overload.Params
}{
	{"A: 20 slots, log-normal service (median 18ms, sigma 0.5)", overload.Params{Slots: 20, Sigma: 0.5, SLO: 150 * time.Millisecond}},
	{"B: 50 slots, heavy-tailed service (median 18ms, sigma 1.0)", overload.Params{Slots: 50, Sigma: 1.0, SLO: 450 * time.Millisecond}},
}

func header() {
	fmt.Println("| contender | load | goodput (% of capacity) | p50 | p99 | rejected | timed out |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
}

func row(r overload.Result) {
	fmt.Printf("| %s | %.1fx | %.0f%% | %v | %v | %.0f%% | %.1f%% |\n", r.Contender, r.Load, 100*r.Goodput,
		r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), 100*r.Rejected, 100*r.TimedOut)
}
