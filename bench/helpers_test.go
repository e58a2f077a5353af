package bench

import (
	"net/http"
	"runtime"
	"strconv"
)

// discardWriter is an http.ResponseWriter that keeps the header map and
// throws the body away, so that benchmarks of middleware measure the
// middleware and not a recorder's buffer.
type discardWriter struct {
	h      http.Header
	status int
	n      int64
}

func newDiscardWriter() *discardWriter { return &discardWriter{h: make(http.Header)} }

func (w *discardWriter) Header() http.Header { return w.h }

func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += int64(len(p))
	return len(p), nil
}

// reset readies w for the next request without allocating a new header map.
func (w *discardWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

// appendIPv4 appends the dotted form of the IPv4 address whose 32 bits are
// i, the shape of a typical rate-limit key.
func appendIPv4(b []byte, i uint32) []byte {
	b = strconv.AppendUint(b, uint64(i>>24), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(i>>16&0xff), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(i>>8&0xff), 10)
	b = append(b, '.')
	return strconv.AppendUint(b, uint64(i&0xff), 10)
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
