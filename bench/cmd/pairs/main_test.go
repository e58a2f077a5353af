package main

import (
	"math"
	"strings"
	"testing"
)

func TestMannWhitney(t *testing.T) {
	tests := []struct {
		name string
		a, b []float64
		want float64
	}{
		// Complete separation with 6 and 6: 2 of C(12,6)=924 arrangements.
		{"separated", []float64{1, 2, 3, 4, 5, 6}, []float64{7, 8, 9, 10, 11, 12}, 2.0 / 924},
		{"reversed", []float64{7, 8, 9, 10, 11, 12}, []float64{1, 2, 3, 4, 5, 6}, 2.0 / 924},
		{"interleaved", []float64{1, 4, 5, 8, 9, 12}, []float64{2, 3, 6, 7, 10, 11}, 1},
		// 3 and 3 separated: 2 of C(6,3)=20.
		{"small", []float64{1, 2, 3}, []float64{4, 5, 6}, 0.1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mannWhitney(tc.a, tc.b); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("mannWhitney(%v, %v) = %v; want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestParseAndTable(t *testing.T) {
	raw := `goos: linux
BenchmarkHotKey/chassis-2   	1000	 100 ns/op	 0 B/op	 0 allocs/op
BenchmarkHotKey/xtimerate-2 	1000	 200 ns/op	 0 B/op	 0 allocs/op
BenchmarkHotKey/chassis-2   	1000	 110 ns/op	 0 B/op	 0 allocs/op
BenchmarkHotKey/xtimerate-2 	1000	 210 ns/op	 0 B/op	 0 allocs/op
BenchmarkKeys1M/chassis-2 	1	 5 ns/op	 58 B/key	 8 B/op	 2 allocs/op
BenchmarkKeys1M/ulule-2 	1	 10 ns/op	 116 B/key	 16 B/op	 4 allocs/op
BenchmarkDoNoBreaker/chassis-2 	10	 3000 ns/op	 984 B/op	 10 allocs/op
PASS
`
	s := newSamples()
	if err := s.parse(strings.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	s.table(&out)
	for _, want := range []string{
		"| HotKey | chassis | xtimerate | 105 ns ±5% | 205 ns ±2% | 0.51× | 0.333 ~ | 0 | 0 | = |",
		"58 vs 116 B/key (0.50×)",
		"| DoNoBreaker | chassis | - | 3.00 µs ±0% | - | - | - | 984 | - | - | 10 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table() lacks %q; got\n%s", want, out.String())
		}
	}
}
