package bench

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chassis-go/chassis/call"
)

// Hedging workload: a downstream that answers in hedgeMedian, except for 1%
// of requests (drawn at random per request, as a replica stalling) that
// take 100× as long. A stalled request ends early when its client cancels
// it, as a well-behaved server does.
const (
	hedgeMedian  = time.Millisecond
	hedgeSlowPct = 1
	hedgeDelay   = 5 * hedgeMedian // near the workload's p95 on a busy machine
)

func hedgeServer(b *testing.B) (*httptest.Server, *atomic.Int64) {
	var served atomic.Int64
	var mu sync.Mutex
	rnd := rand.New(rand.NewPCG(1, 2))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		mu.Lock()
		slow := rnd.IntN(100) < hedgeSlowPct
		mu.Unlock()
		d := hedgeMedian
		if slow {
			d *= 100
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			_, _ = io.WriteString(w, "ok")
		case <-r.Context().Done():
		}
	}))
	b.Cleanup(srv.Close)
	return srv, &served
}

// BenchmarkHedge sends requests from 8 goroutines to the hedging workload
// and reports the latency percentiles seen by the caller (p50-ms, p99-ms,
// p999-ms) and the share of extra requests the server got (extra-%):
//
//   - chassis: call.Client with WithHedge(HedgePolicy{Delay: 5ms}).
//   - nohedge: the same Client without hedging.
//
// Run it with a fixed count, e.g. -benchtime=3000x: ns/op is then the
// wall time per request divided by the parallelism and says little; the
// percentiles are the result.
func BenchmarkHedge(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []call.Option
	}{
		{"chassis", []call.Option{call.WithHedge(call.HedgePolicy{Delay: hedgeDelay})}},
		{"nohedge", nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv, served := hedgeServer(b)
			c := call.New(append([]call.Option{call.WithRetry(call.RetryPolicy{MaxAttempts: 1})}, tc.opts...)...)
			defer c.CloseIdleConnections()
			var mu sync.Mutex
			lat := make([]time.Duration, 0, b.N)
			var ops atomic.Int64
			b.SetParallelism(4) // 8 goroutines on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				local := make([]time.Duration, 0, 256)
				req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
				for pb.Next() {
					start := time.Now()
					resp, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					local = append(local, time.Since(start))
					ops.Add(1)
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			})
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 {
				if len(lat) == 0 {
					return 0
				}
				i := min(len(lat)-1, int(p*float64(len(lat))))
				return float64(lat[i]) / float64(time.Millisecond)
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(pct(0.999), "p999-ms")
			if n := ops.Load(); n > 0 {
				b.ReportMetric(100*float64(served.Load()-n)/float64(n), "extra-%")
			}
		})
	}
}
