// Command pairs reads the output of go test -bench (any number of runs of
// the bench module, concatenated) and prints one Markdown table comparing
// each chassis implementation with each peer on the same work.
//
// Benchmarks are named Benchmark<Work>/<impl>. The impl "chassis", and any
// impl whose name starts with "chassis_" (a variant such as chassis_rt), is
// chassis's; every other impl of the same Work is a peer. For each pair the
// table shows the median ns/op of both with the spread of the samples
// (half the range, as a percentage of the median), the ratio chassis ÷ peer
// (below 1 means chassis is faster), the p-value of a two-sided Mann-Whitney
// U test on the ns/op samples (as benchstat does: with 6 samples each, p
// cannot go below 0.002, and p > 0.05 means the difference is noise), the
// median B/op of both and their ratio, the median allocs/op of both, and any
// custom metric (B/key, ns/key, decisions/s) with its ratio (except for
// rates, per second, whose ratio would read backwards). Works with a chassis implementation and no
// peer are listed with "-" in the peer columns.
//
// Usage:
//
//	go run ./cmd/pairs results/raw.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pairs raw-benchmark-output...")
		os.Exit(2)
	}
	s := newSamples()
	for _, path := range os.Args[1:] {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pairs:", err)
			os.Exit(1)
		}
		err = s.parse(f)
		_ = f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "pairs:", path+":", err)
			os.Exit(1)
		}
	}
	s.table(os.Stdout)
}

// samples holds every measurement, by work, impl and unit, in order of first
// appearance of each work.
type samples struct {
	works []string
	impls map[string][]string                        // work -> impls in order of appearance
	vals  map[string]map[string]map[string][]float64 // work -> impl -> unit -> values
}

func newSamples() *samples {
	return &samples{impls: map[string][]string{}, vals: map[string]map[string]map[string][]float64{}}
}

// procSuffix is the -GOMAXPROCS suffix go test adds to benchmark names.
var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads benchmark result lines ("BenchmarkX/impl-2  N  v unit ...")
// and ignores everything else.
func (s *samples) parse(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			continue // not a pair benchmark
		}
		work, impl := name[:i], name[i+1:]
		if s.vals[work] == nil {
			s.works = append(s.works, work)
			s.vals[work] = map[string]map[string][]float64{}
		}
		if s.vals[work][impl] == nil {
			s.impls[work] = append(s.impls[work], impl)
			s.vals[work][impl] = map[string][]float64{}
		}
		for j := 2; j+1 < len(f); j += 2 {
			v, err := strconv.ParseFloat(f[j], 64)
			if err != nil {
				return fmt.Errorf("bad value %q in %q", f[j], sc.Text())
			}
			unit := f[j+1]
			s.vals[work][impl][unit] = append(s.vals[work][impl][unit], v)
		}
	}
	return sc.Err()
}

func isChassis(impl string) bool { return impl == "chassis" || strings.HasPrefix(impl, "chassis_") }

// standardUnits are shown in their own columns; others go to "other".
var standardUnits = []string{"ns/op", "B/op", "allocs/op", "MB/s"}

func (s *samples) table(w io.Writer) {
	fmt.Fprintln(w, "| benchmark | chassis | peer | chassis time/op | peer time/op | ratio | p | chassis B/op | peer B/op | B/op ratio | chassis allocs/op | peer allocs/op | other |")
	fmt.Fprintln(w, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, work := range s.works {
		impls := s.impls[work]
		var ours, peers []string
		for _, impl := range impls {
			if isChassis(impl) {
				ours = append(ours, impl)
			} else {
				peers = append(peers, impl)
			}
		}
		for _, c := range ours {
			cv := s.vals[work][c]
			if len(peers) == 0 {
				fmt.Fprintf(w, "| %s | %s | - | %s | - | - | - | %s | - | - | %s | - | %s |\n",
					strings.TrimPrefix(work, "Benchmark"), c, timeCell(cv["ns/op"]),
					num(median(cv["B/op"])), num(median(cv["allocs/op"])), otherCell(cv, nil))
				continue
			}
			for _, p := range peers {
				pv := s.vals[work][p]
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
					strings.TrimPrefix(work, "Benchmark"), c, p,
					timeCell(cv["ns/op"]), timeCell(pv["ns/op"]),
					ratio(median(cv["ns/op"]), median(pv["ns/op"])),
					pCell(cv["ns/op"], pv["ns/op"]),
					num(median(cv["B/op"])), num(median(pv["B/op"])),
					ratio(median(cv["B/op"]), median(pv["B/op"])),
					num(median(cv["allocs/op"])), num(median(pv["allocs/op"])),
					otherCell(cv, pv))
			}
		}
	}
}

// otherCell lists the custom metrics of c (and p, with the ratio, if given).
func otherCell(c, p map[string][]float64) string {
	var units []string
	for u := range c {
		if !slices.Contains(standardUnits, u) {
			units = append(units, u)
		}
	}
	sort.Strings(units)
	var parts []string
	for _, u := range units {
		cm := median(c[u])
		if p == nil || len(p[u]) == 0 {
			parts = append(parts, fmt.Sprintf("%s %s", num(cm), u))
			continue
		}
		pm := median(p[u])
		if strings.HasSuffix(u, "/s") {
			// A rate is the inverse of time/op: its ratio would read backwards.
			parts = append(parts, fmt.Sprintf("%s vs %s %s", num(cm), num(pm), u))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s vs %s %s (%s)", num(cm), num(pm), u, ratio(cm, pm)))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// spread is half the range of v as a fraction of its median.
func spread(v []float64) float64 {
	if len(v) < 2 {
		return 0
	}
	return (slices.Max(v) - slices.Min(v)) / 2 / median(v)
}

func timeCell(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	return fmt.Sprintf("%s ±%.0f%%", duration(median(v)), 100*spread(v))
}

// duration formats nanoseconds with three significant digits.
func duration(ns float64) string {
	switch {
	case ns >= 1e9:
		return sig3(ns/1e9) + " s"
	case ns >= 1e6:
		return sig3(ns/1e6) + " ms"
	case ns >= 1e3:
		return sig3(ns/1e3) + " µs"
	default:
		return sig3(ns) + " ns"
	}
}

func sig3(x float64) string {
	switch {
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	default:
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
}

// num formats a count or size compactly (12, 1.5k, 134M).
func num(x float64) string {
	switch {
	case math.IsNaN(x):
		return "-"
	case x >= 1e9:
		return sig3(x/1e9) + "G"
	case x >= 1e6:
		return sig3(x/1e6) + "M"
	case x >= 1e4:
		return sig3(x/1e3) + "k"
	case x == math.Trunc(x):
		return strconv.FormatFloat(x, 'f', 0, 64)
	default:
		return sig3(x)
	}
}

func ratio(c, p float64) string {
	switch {
	case math.IsNaN(c) || math.IsNaN(p):
		return "-"
	case p == 0 && c == 0:
		return "="
	case p == 0:
		return "∞"
	}
	r := c / p
	if r < 0.01 {
		return strconv.FormatFloat(r, 'g', 2, 64) + "×"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "×"
}

func pCell(a, b []float64) string {
	if len(a) < 2 || len(b) < 2 {
		return "-"
	}
	p := mannWhitney(a, b)
	s := strconv.FormatFloat(p, 'f', 3, 64)
	if p > 0.05 {
		s += " ~"
	}
	return s
}

// mannWhitney returns the two-sided p-value of the Mann-Whitney U test of a
// against b. Ties get mid-ranks; the null distribution is the exact one for
// untied samples (ties are rare with timings), computed by counting.
func mannWhitney(a, b []float64) float64 {
	type obs struct {
		v     float64
		fromA bool
	}
	all := make([]obs, 0, len(a)+len(b))
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	var rankSumA float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		mid := float64(i+j+1) / 2 // ranks are 1-based: (i+1 + j) / 2
		for k := i; k < j; k++ {
			if all[k].fromA {
				rankSumA += mid
			}
		}
		i = j
	}
	n, m := len(a), len(b)
	u := rankSumA - float64(n*(n+1))/2
	// counts[k] = number of arrangements with U = k, by the recurrence
	// c(n, m, u) = c(n-1, m, u-m) + c(n, m-1, u).
	maxU := n * m
	prev := make([][]float64, m+1) // prev[j] = distribution for (i-1, j)
	for j := range prev {
		prev[j] = make([]float64, maxU+1)
		prev[j][0] = 1
	}
	for i := 1; i <= n; i++ {
		cur := make([][]float64, m+1)
		cur[0] = make([]float64, maxU+1)
		cur[0][0] = 1
		for j := 1; j <= m; j++ {
			cur[j] = make([]float64, maxU+1)
			for k := 0; k <= i*j; k++ {
				if k >= j {
					cur[j][k] += prev[j][k-j]
				}
				cur[j][k] += cur[j-1][k]
			}
		}
		prev = cur
	}
	dist := prev[m]
	var total float64
	for _, c := range dist {
		total += c
	}
	lo := math.Min(u, float64(maxU)-u)
	var tail float64
	for k := 0; float64(k) <= lo+1e-9; k++ {
		tail += dist[k]
	}
	return math.Min(1, 2*tail/total)
}
