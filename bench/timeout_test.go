package bench

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chassis-go/chassis/guard"
)

// Response size and write size of BenchmarkTimeout64MiB.
const (
	streamBytes = 64 << 20
	streamChunk = 32 << 10
)

// BenchmarkTimeout64MiB streams a 64 MiB response, in 32 KiB writes, through
// each timeout middleware into a ResponseWriter that discards the bytes,
// with a deadline (10s) that does not expire. B/op is what the middleware
// allocates per response.
//
//   - chassis: guard.Timeout, which passes each write through to the client.
//   - stdlib: net/http.TimeoutHandler, which buffers the whole response in
//     memory (so that it can still send its 503) and copies it out when the
//     handler returns.
//
// Run it with a fixed -benchtime (run.sh uses 20x).
func BenchmarkTimeout64MiB(b *testing.B) {
	chunk := make([]byte, streamChunk)
	stream := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		for range streamBytes / streamChunk {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	impls := []struct {
		name string
		h    http.Handler
	}{
		{"chassis", guard.Timeout(10 * time.Second)(stream)},
		{"stdlib", http.TimeoutHandler(stream, 10*time.Second, "")},
	}
	req := httptest.NewRequest(http.MethodGet, "/download", nil)
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			w := newDiscardWriter()
			b.SetBytes(streamBytes)
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				impl.h.ServeHTTP(w, req)
				if w.status != http.StatusOK || w.n != streamBytes {
					b.Fatalf("status %d, %d bytes; want 200, %d bytes", w.status, w.n, streamBytes)
				}
			}
		})
	}
}
