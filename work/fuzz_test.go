package work_test

import (
	"context"
	"errors"
	"testing"

	"github.com/chassis-go/chassis/work"
)

// FuzzMap checks Map's contract for arbitrary sizes, worker counts and
// failure patterns: results in input order, failed indices exactly the
// failing items, worker bound respected.
func FuzzMap(f *testing.F) {
	f.Add(uint8(0), uint8(1), uint64(0), false)
	f.Add(uint8(10), uint8(3), uint64(0b1010), false)
	f.Add(uint8(64), uint8(64), ^uint64(0), true)
	f.Add(uint8(200), uint8(7), uint64(1)<<63|1, true)
	f.Fuzz(func(t *testing.T, n, workers uint8, failMask uint64, failFast bool) {
		w := int(workers)%32 + 1
		fails := func(i int) bool { return failMask>>(uint(i)%64)&1 == 1 }
		var mt maxTracker
		opts := []work.Option{work.Workers(w)}
		if failFast {
			opts = append(opts, work.FailFast())
		}
		got, err := work.Map(context.Background(), seq(int(n)), func(_ context.Context, i int) (int, error) {
			mt.enter()
			defer mt.exit()
			if fails(i) {
				return -1, errBoom
			}
			return i + 1, nil
		}, opts...)
		if m := mt.max.Load(); m > int64(w) {
			t.Fatalf("max concurrency %d > Workers(%d)", m, w)
		}
		if len(got) != int(n) {
			t.Fatalf("len(results) = %d; want %d", len(got), n)
		}
		anyFail := false
		for i := range int(n) {
			anyFail = anyFail || fails(i)
		}
		if !anyFail {
			if err != nil {
				t.Fatalf("Map() = %v; want nil", err)
			}
			for i, v := range got {
				if v != i+1 {
					t.Fatalf("results[%d] = %d; want %d", i, v, i+1)
				}
			}
			return
		}
		if failFast {
			var ie *work.ItemError
			if !errors.As(err, &ie) || !fails(ie.Index) || !errors.Is(err, errBoom) {
				t.Fatalf("Map(FailFast) = %v; want a failing item's error", err)
			}
			return
		}
		var errs *work.Errors
		if !errors.As(err, &errs) {
			t.Fatalf("Map() = %v; want *Errors", err)
		}
		k := 0
		for i := range int(n) {
			if fails(i) {
				if k >= len(errs.Errs) || errs.Errs[k].Index != i {
					t.Fatalf("Errs = %v; missing index %d", err, i)
				}
				if got[i] != 0 {
					t.Fatalf("results[%d] = %d for a failed item; want 0", i, got[i])
				}
				k++
			} else if got[i] != i+1 {
				t.Fatalf("results[%d] = %d; want %d", i, got[i], i+1)
			}
		}
		if k != len(errs.Errs) {
			t.Fatalf("Errs has %d entries; want %d", len(errs.Errs), k)
		}
	})
}
