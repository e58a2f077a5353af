package admin

import (
	"math"
	"strconv"
	"testing"
	"time"
)

func leaves(prefix string, n int, v float64) *node {
	o := &node{kind: kindObject}
	for i := range n {
		o.keys = append(o.keys, prefix+strconv.Itoa(i))
		o.kids = append(o.kids, number(v))
	}
	return o
}

func TestHistoryRingIsBounded(t *testing.T) {
	t.Parallel()
	const size, maxSeries = 5, 4
	h := newHistory(size, maxSeries)
	at := time.Unix(0, 0)
	for i := range 50 {
		at = at.Add(5 * time.Second)
		// Ten leaves, renamed every sample: the worst case for the bound.
		h.record(at, map[string]*node{"r": leaves("k"+strconv.Itoa(i)+"_", 10, float64(i)), "gone": nil})
		if n := h.seriesCount("r"); n > maxSeries {
			t.Fatalf("after sample %d: %d series; want at most %d", i, n, maxSeries)
		}
		for p, s := range h.sections["r"] {
			if len(s.vals) != size {
				t.Fatalf("series %s holds %d values; want %d", p, len(s.vals), size)
			}
		}
	}
	if n := h.seriesCount("gone"); n != 0 {
		t.Errorf("a failing section holds %d series; want 0", n)
	}
	if h.count != size || len(h.times) != size {
		t.Errorf("ring holds %d samples in %d slots; want %d", h.count, len(h.times), size)
	}
}

func TestHistoryValuesAndGaps(t *testing.T) {
	t.Parallel()
	h := newHistory(3, 8)
	at := time.Unix(0, 0)
	for i, present := range []bool{true, false, true, true} {
		tree := &node{kind: kindObject}
		if present {
			tree = leaves("x", 1, float64(i))
		}
		h.record(at.Add(time.Duration(i)*time.Second), map[string]*node{"r": tree})
	}
	got := h.values("r", "x0")
	want := []float64{math.NaN(), 2, 3}
	if len(got) != len(want) || !math.IsNaN(got[0]) || got[1] != 2 || got[2] != 3 {
		t.Errorf("values = %v; want %v (oldest first, NaN for the gap)", got, want)
	}
	// Missing for a whole ring: dropped.
	for i := range 3 {
		h.record(at.Add(time.Duration(10+i)*time.Second), map[string]*node{"r": nil})
	}
	if got := h.values("r", "x0"); got != nil {
		t.Errorf("values after a ring of gaps = %v; want nil", got)
	}
}

func TestSparkline(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	tests := []struct {
		name string
		vals []float64
		want string // D, or "" for no sparkline
	}{
		{"empty", nil, ""},
		{"one sample", []float64{1}, ""},
		{"flat", []float64{2, 2, 2}, ""},
		{"rising", []float64{0, 1, 2}, "M0.0 18.5L50.0 10.0L100.0 1.5"},
		{"gap", []float64{0, nan, 2}, "M0.0 18.5M100.0 1.5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := sparkline(tc.vals)
			got := ""
			if s != nil {
				got = s.D
			}
			if got != tc.want {
				t.Errorf("sparkline(%v) = %q; want %q", tc.vals, got, tc.want)
			}
		})
	}
}

func TestTreeKeepsOrderAndBounds(t *testing.T) {
	t.Parallel()
	type s struct {
		Z int    `json:"z"`
		A string `json:"a"`
		M []int  `json:"m"`
	}
	n, err := toTree(s{Z: 1, A: "x", M: []int{1, 2}}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(n.json()); got != `{"z":1,"a":"x","m":[1,2]}` {
		t.Errorf("tree = %s; want field order kept", got)
	}
	if _, err := toTree(make([]int, 100), 100); err == nil {
		t.Errorf("toTree of 201 bytes with limit 100 = nil error; want too large")
	}
	deep := any(1)
	for range maxDepth + 2 {
		deep = []any{deep}
	}
	if _, err := toTree(deep, 1<<20); err == nil {
		t.Errorf("toTree of %d nested arrays = nil error; want too deep", maxDepth+2)
	}
}
