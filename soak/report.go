package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// verdict is a row's outcome. The zero verdict is verdictInfo: a figure
// reported without a bound.
type verdict int

const (
	verdictInfo verdict = iota
	verdictPass
	verdictFail
)

func (v verdict) String() string {
	switch v {
	case verdictPass:
		return "PASS"
	case verdictFail:
		return "FAIL"
	}
	return "info"
}

// row is one line of the summary table.
type row struct {
	phase, metric, value, bound string
	verdict                     verdict
}

// report collects the summary table. The zero report is empty and ready to
// use; it is not safe for concurrent use (phases run one after the other).
type report struct {
	rows []row
}

// info adds a figure that has no bound.
func (r *report) info(phase, metric, value string) {
	r.rows = append(r.rows, row{phase: phase, metric: metric, value: value, bound: "-"})
}

// check adds a bounded figure: PASS if ok, FAIL otherwise.
func (r *report) check(phase, metric, value, bound string, ok bool) {
	v := verdictFail
	if ok {
		v = verdictPass
	}
	r.rows = append(r.rows, row{phase: phase, metric: metric, value: value, bound: bound, verdict: v})
}

// failures returns the rows that broke their bound.
func (r *report) failures() []row {
	var out []row
	for _, x := range r.rows {
		if x.verdict == verdictFail {
			out = append(out, x)
		}
	}
	return out
}

// write prints the table, aligned, with a final PASS or FAIL line.
func (r *report) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tMETRIC\tVALUE\tBOUND\tRESULT")
	for _, x := range r.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.phase, clean(x.metric), clean(x.value), clean(x.bound), x.verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fails := r.failures()
	checks := 0
	for _, x := range r.rows {
		if x.verdict != verdictInfo {
			checks++
		}
	}
	var err error
	if len(fails) == 0 {
		_, err = fmt.Fprintf(w, "soak: PASS (%d checks)\n", checks)
	} else {
		names := make([]string, len(fails))
		for i, f := range fails {
			names[i] = f.phase + "/" + f.metric
		}
		_, err = fmt.Fprintf(w, "soak: FAIL (%d of %d checks): %s\n", len(fails), checks, strings.Join(names, ", "))
	}
	return err
}

// clean keeps a cell on one line and out of the column separator.
func clean(s string) string {
	if s == "" {
		return "-"
	}
	return strings.NewReplacer("\t", " ", "\n", " ").Replace(s)
}

// Formatting helpers for table cells.

// fmtDur prints a duration with three significant figures in a fitting unit.
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%dµs", d/time.Microsecond)
	}
}

// fmtMiB prints a byte count in MiB with one decimal.
func fmtMiB(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// fmtPct prints part/total as a percentage; "n/a" when total is 0.
func fmtPct(part, total uint64) string {
	if total == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(part)/float64(total))
}

// fmtStatuses prints status counts as "200:1234 503:5" in status order
// ("other" for codes outside 1..599); "none" when empty.
func fmtStatuses(c *statusCounts) string {
	var b strings.Builder
	for code, n := range c {
		if n == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if code == 0 {
			fmt.Fprintf(&b, "other:%d", n)
		} else {
			fmt.Fprintf(&b, "%d:%d", code, n)
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// Bounds. Each is a pure function so that its arithmetic is unit tested.

// hotKeyBound is the most admissions a GCRA limiter of rate per per with
// the given burst may grant one key over elapsed: the burst plus what the
// rate replenishes, rounded up.
func hotKeyBound(rate int, per time.Duration, burst int, elapsed time.Duration) uint64 {
	if burst == 0 {
		burst = rate
	}
	return uint64(burst) + uint64(math.Ceil(float64(rate)*elapsed.Seconds()/per.Seconds()))
}

// budgetPolicy is the retry budget of call.RetryBudget{} (the service's):
// Ratio retries per request over Window, plus a floor of MinPerSecond.
type budgetPolicy struct {
	Ratio        float64
	MinPerSecond float64
	Window       time.Duration
}

// retryBound is the most retries a sliding-window retry budget may grant
// over a span of lifetime (the client's age when the span ends) to
// requests calls.
//
// The budget's window is a ring of 10 buckets aligned to the client's
// creation. Cut the lifetime into blocks of one Window each. The last retry
// granted in a block saw a window that held every earlier retry of that
// block and requests from that block and the one before it only, so each
// block grants at most Ratio×(its requests + the previous block's) +
// MinPerSecond×Window. Summed over the blocks the lifetime touches:
// 2×Ratio×requests + floor×blocks. It is a hard upper bound, whatever the
// traffic's shape; steady traffic stays near half of the ratio term.
func retryBound(p budgetPolicy, requests uint64, lifetime time.Duration) float64 {
	blocks := math.Ceil(lifetime.Seconds()/p.Window.Seconds()) + 1
	return 2*p.Ratio*float64(requests) + p.MinPerSecond*p.Window.Seconds()*blocks
}

// growthOK reports whether after stayed within tolerance of before.
func growthOK(before, after, tolerance float64) bool { return after-before <= tolerance }
