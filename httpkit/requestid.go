package httpkit

import (
	"github.com/chassis-go/chassis/internal/reqmeta"

	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/chassis-go/chassis/problem"
)

// RequestID is middleware that gives every request an id. It keeps a valid
// inbound X-Request-ID header (1–128 characters of [A-Za-z0-9._-], see
// [problem.ValidRequestID]) so that an id chosen by a proxy or caller is
// carried through, and otherwise generates 32 lower-case hex digits from 16
// random bytes. Callers can choose the id of their request, so treat it as
// a correlation aid, never as proof of anything.
//
// Before calling next, RequestID sets the X-Request-ID response header (so
// every response, problem responses from [problem.Write] included, carries
// the id) and stores the id in the request context for [RequestIDFrom] and
// [Logging]. When an outer RequestID already set an id, the inner one keeps
// it. next always runs; the ResponseWriter is passed on unwrapped.
//
// If the random source fails, the id falls back to the time and a counter
// (unique within this middleware), so RequestID never fails a request.
// Panics if next is nil.
func RequestID(next http.Handler) http.Handler {
	if next == nil {
		panic("httpkit.RequestID: next is nil; pass the handler to wrap")
	}
	return &requestIDHandler{next: next, random: rand.Reader, now: time.Now}
}

// requestIDKey is problem.RequestIDHeader in canonical form, for header
// map access without canonicalizing on every request.
const requestIDKey = "X-Request-Id"

type requestIDHandler struct {
	next   http.Handler
	random io.Reader        // crypto/rand.Reader; white-box tests make it fail
	now    func() time.Time // time.Now, for the fallback id
	seq    atomic.Uint64
}

func (h *requestIDHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r, info := reqmeta.Ensure(r)
	var value []string // the response header value, when built with the id
	id := info.RequestID()
	if id == "" {
		if v := r.Header[requestIDKey]; len(v) > 0 && problem.ValidRequestID(v[0]) {
			id = v[0]
		} else {
			value = h.newID()
			id = value[0]
		}
		if kept := info.SetRequestID(id); kept != id {
			id, value = kept, nil
		}
	}
	if value == nil {
		value = []string{id}
	}
	w.Header()[requestIDKey] = value
	defer reqmeta.Publish(r)
	h.next.ServeHTTP(w, r)
}

// newID returns a new id as a one-element header value.
func (h *requestIDHandler) newID() []string {
	// One allocation for the random bytes, their hex digits, the id string
	// (which points at the digits, never written again) and its []string.
	v := new(randomID)
	if _, err := io.ReadFull(h.random, v.raw[:]); err == nil {
		hex.Encode(v.hex[:], v.raw[:])
		v.value[0] = unsafe.String(&v.hex[0], len(v.hex))
		return v.value[:]
	}
	// Unique within this handler; the time makes a clash with another
	// process's fallback ids unlikely.
	return []string{strconv.FormatInt(h.now().UnixNano(), 36) + "-" + strconv.FormatUint(h.seq.Add(1), 36)}
}

// randomID holds a generated id and the bytes it is made of.
type randomID struct {
	value [1]string
	raw   [16]byte
	hex   [32]byte
}

// RequestIDFrom returns the request id that [RequestID] stored in ctx, or ""
// if ctx did not pass through RequestID. The id is always valid by
// [problem.ValidRequestID], so it can be logged or echoed in a header as is.
func RequestIDFrom(ctx context.Context) string {
	return reqmeta.RequestID(ctx)
}
