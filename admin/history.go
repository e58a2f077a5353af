package admin

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// history is a ring of the last samples of every section's numeric leaves.
// Its memory is bounded by sections × MaxSeries × History float64s: a
// section keeps at most MaxSeries series, and a new leaf gets a slot only
// if one is free or a series was missing from the latest sample. A series
// that has been missing for a whole ring is dropped. It is not safe for
// concurrent use; Admin guards it with its mutex.
type history struct {
	times     []time.Time // ring of sample times; times[head] is the next slot
	head      int
	count     int    // samples held, at most len(times)
	gen       uint64 // number of samples ever recorded
	maxSeries int
	sections  map[string]map[string]*ring
}

type ring struct {
	vals []float64 // parallel to history.times; NaN where the leaf was missing
	seen uint64    // gen of the last sample that had this leaf
}

type point struct {
	path string
	v    float64
}

func newHistory(size, maxSeries int) *history {
	return &history{times: make([]time.Time, size), maxSeries: maxSeries, sections: map[string]map[string]*ring{}}
}

// record adds one sample taken at t; trees maps a section name to its
// report (nil for a section whose reporter failed).
func (h *history) record(t time.Time, trees map[string]*node) {
	slot := h.head
	h.times[slot] = t
	h.head = (h.head + 1) % len(h.times)
	h.count = min(h.count+1, len(h.times))
	h.gen++
	for name, tree := range trees {
		m := h.sections[name]
		if m == nil {
			m = map[string]*ring{}
			h.sections[name] = m
		}
		var fresh []point
		if tree != nil {
			tree.numbers("", func(p string, v float64) bool {
				if s := m[p]; s != nil {
					s.vals[slot], s.seen = v, h.gen
				} else if len(fresh) < h.maxSeries {
					fresh = append(fresh, point{p, v})
				}
				return true
			})
		}
		for _, pt := range fresh {
			if len(m) >= h.maxSeries && !h.evict(m) {
				break
			}
			s := &ring{vals: make([]float64, len(h.times)), seen: h.gen}
			for i := range s.vals {
				s.vals[i] = math.NaN()
			}
			s.vals[slot] = pt.v
			m[pt.path] = s
		}
	}
	// Every series not in this sample gets a gap; one that has been a gap
	// for a whole ring holds nothing worth drawing.
	for _, m := range h.sections {
		for p, s := range m {
			if s.seen != h.gen {
				s.vals[slot] = math.NaN()
				if h.gen-s.seen >= uint64(len(h.times)) {
					delete(m, p)
				}
			}
		}
	}
}

// evict removes one series of m that is missing from the current sample
// and reports whether it found one.
func (h *history) evict(m map[string]*ring) bool {
	for p, s := range m {
		if s.seen != h.gen {
			delete(m, p)
			return true
		}
	}
	return false
}

// values returns the series of path in section, oldest first, or nil.
func (h *history) values(section, path string) []float64 {
	s := h.sections[section][path]
	if s == nil {
		return nil
	}
	out := make([]float64, 0, h.count)
	start := (h.head - h.count + len(h.times)) % len(h.times)
	for i := range h.count {
		out = append(out, s.vals[(start+i)%len(h.times)])
	}
	return out
}

// seriesCount returns the number of series held for section.
func (h *history) seriesCount(section string) int { return len(h.sections[section]) }

// spark is a sparkline ready for the template: an SVG path in a 100×20
// box, and a tooltip.
type spark struct {
	D     string
	Title string
}

// sparkline draws vals (oldest first; NaN is a gap) as an SVG path, or
// returns nil when fewer than two samples are known or all are equal.
func sparkline(vals []float64) *spark {
	lo, hi, known := math.Inf(1), math.Inf(-1), 0
	for _, v := range vals {
		if !math.IsNaN(v) {
			lo, hi, known = min(lo, v), max(hi, v), known+1
		}
	}
	if known < 2 || lo == hi {
		return nil // a flat line says nothing the number does not
	}
	const w, h, pad = 100.0, 20.0, 1.5
	var b strings.Builder
	pen := false
	for i, v := range vals {
		if math.IsNaN(v) {
			pen = false
			continue
		}
		x := w * float64(i) / float64(len(vals)-1)
		y := h / 2
		if hi > lo {
			y = h - pad - (v-lo)/(hi-lo)*(h-2*pad)
		}
		if pen {
			b.WriteByte('L')
		} else {
			b.WriteByte('M')
		}
		b.WriteString(strconv.FormatFloat(x, 'f', 1, 64))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatFloat(y, 'f', 1, 64))
		pen = true
	}
	return &spark{D: b.String(), Title: "min " + formatNum(lo) + ", max " + formatNum(hi) + " over " + strconv.Itoa(len(vals)) + " samples"}
}

// formatNum writes a float compactly: integers without a point, others
// with up to 4 significant digits.
func formatNum(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'g', 4, 64)
}
