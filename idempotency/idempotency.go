package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/chassis-go/chassis/internal/reqbody"

	"github.com/chassis-go/chassis/internal/logthrottle"
	"github.com/chassis-go/chassis/internal/respwrite"
	"github.com/chassis-go/chassis/problem"
)

// Header is the request header that carries the idempotency key.
const Header = "Idempotency-Key"

// ReplayedHeader is set to "true" on responses replayed from the Store.
const ReplayedHeader = "Idempotent-Replayed"

// Defaults of the zero fields of [Config].
const (
	DefaultLockTTL     = time.Minute
	DefaultRetention   = 24 * time.Hour
	DefaultMaxBody     = 1 << 20
	DefaultMaxResponse = 256 << 10
	DefaultRetryAfter  = time.Second
)

// DefaultHeaders are the response headers stored and replayed when
// Config.Headers is nil.
var defaultHeaders = []string{"Content-Type", "Content-Language", "Content-Location", "Location", "Etag", "Last-Modified"}

// storeTimeout bounds Complete and Release, which run on a context detached
// from the request's cancellation so that a client hanging up cannot leave
// a key locked until its TTL.
const storeTimeout = 5 * time.Second

// Config configures [Middleware]. Store and Key are required; every other
// zero field means the documented default. Middleware copies the config
// (slices included).
type Config struct {
	// Store keeps the records: a [MemoryStore] for one replica, an
	// idempotency/redisstore Store for several. Required.
	Store Store

	// Key returns the client's identity, the first part of the scope a key
	// is valid in (with the method and the route), so two clients never see
	// each other's responses. Required. Use the authenticated principal
	// where there is one; guard.RemoteIP() and guard.ClientIP(...) have this
	// type and fit where there is not. An error is answered with the
	// *problem.Error it is or wraps, else 400 "cannot identify client",
	// and the handler is not called.
	Key func(*http.Request) (string, error)

	// Methods are the methods the middleware applies to; others pass
	// through untouched. Nil means POST and PATCH.
	Methods []string

	// Required makes a missing Idempotency-Key a 400 for those methods.
	// False (the default) lets such requests through unprotected.
	Required bool

	// LockTTL is how long a key stays claimed by a request in flight.
	// It must be longer than the handler can run (set guard.Timeout
	// shorter), or a retry arriving after LockTTL runs the handler again and
	// the first response is not stored. Zero means DefaultLockTTL (1m).
	// Negative panics.
	LockTTL time.Duration

	// Retention is how long a completed response is kept and replayed.
	// Zero means DefaultRetention (24h). Negative panics.
	Retention time.Duration

	// MaxBody caps the request body, in bytes, that is read to fingerprint
	// it; a longer body is answered 413 without calling the handler.
	// Zero means DefaultMaxBody (1 MiB). Negative panics.
	MaxBody int64

	// MaxResponse caps the response body stored, in bytes. A longer
	// response is sent normally but not stored, and its key is released.
	// Zero means DefaultMaxResponse (256 KiB). Negative panics.
	MaxResponse int

	// Headers are the response headers stored and replayed, besides the
	// status and the body. Nil means Content-Type, Content-Language,
	// Content-Location, Location, ETag and Last-Modified; an empty non-nil
	// slice stores none.
	Headers []string

	// FailOpen chooses what happens when the Store fails (say Redis is
	// unreachable): false (the default) fails closed, answering 503 with
	// Retry-After without calling the handler; true calls the handler
	// unprotected, so a retry may run it twice. Either way the error is
	// logged. [ErrFull] is always answered 503.
	FailOpen bool

	// RetryAfter is the Retry-After sent with 409 (the first request is
	// still running) and 503, rounded up to whole seconds. Zero means
	// DefaultRetryAfter (1s). Negative panics.
	RetryAfter time.Duration

	// Logger receives Store errors, at most one record per second (with a
	// "suppressed" count). Nil means slog.Default() at the time of logging.
	// Records carry no key or client identity.
	Logger *slog.Logger
}

// Middleware executes each request that carries an Idempotency-Key
// (draft-ietf-httpapi-idempotency-key-header), for the configured methods,
// at most once per key and scope, and answers retries from the stored
// response. The scope is the client's identity (cfg.Key), the method and the
// route: r.Pattern when the middleware runs inside a ServeMux route (wrap
// the route's handler: mux.Handle("POST /payments", mw(h))), else the URL
// path (when it wraps the whole mux, which has not matched yet). Both are
// safe; a per-route mount is the one that matches the draft.
//
// What the client sees, for a request with a key:
//   - a malformed key (see [MaxKeyLength]; more than one header): 400;
//   - a body over MaxBody: 413;
//   - first time: the handler's response. It is stored for Retention
//     (status, the allowlisted headers, the body) unless its status is
//     408, 429 or 5xx, its body exceeds MaxResponse, or the connection was
//     hijacked: then the key is released and a retry runs the handler
//     again. A panic in the handler releases the key and propagates.
//   - the same key again with the same body (SHA-256): the stored response
//     with "Idempotent-Replayed: true"; the handler is not called;
//   - the same key with a different body: 422;
//   - the same key while the first request is still running: 409 with
//     Retry-After;
//   - the Store failing: 503 with Retry-After, or the handler unprotected
//     with FailOpen; a full MemoryStore: 503 with Retry-After.
//
// Errors are problem+json bodies. The handler reads the original body, and
// its ResponseWriter keeps Flush, Hijack, ReadFrom and Unwrap (through
// internal respwrite), so http.ResponseController works behind it.
//
// Store calls that end a claim (Complete, Release) run detached from the
// request's cancellation, bounded to 5s, on the request's goroutine; the
// middleware starts no goroutines.
//
// Panics if cfg.Store or cfg.Key is nil or a duration or size is negative.
func Middleware(cfg Config) func(http.Handler) http.Handler {
	m := newMiddleware(cfg)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.serve(next, w, r)
		})
	}
}

type middleware struct {
	cfg      Config
	methods  []string
	headers  []string
	throttle logthrottle.Throttle
	// newToken returns a claim's token; tests may make it deterministic.
	newToken func() string
}

func newMiddleware(cfg Config) *middleware {
	if cfg.Store == nil {
		panic("idempotency.Middleware: cfg.Store is nil; build one with idempotency.NewMemoryStore or redisstore.New")
	}
	if cfg.Key == nil {
		panic("idempotency.Middleware: cfg.Key is nil; use the authenticated principal, or guard.RemoteIP()")
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"LockTTL", int64(cfg.LockTTL)}, {"Retention", int64(cfg.Retention)}, {"MaxBody", cfg.MaxBody},
		{"MaxResponse", int64(cfg.MaxResponse)}, {"RetryAfter", int64(cfg.RetryAfter)},
	} {
		if f.v < 0 {
			panic(fmt.Sprintf("idempotency.Middleware: cfg.%s is negative (%d); use 0 for the default", f.name, f.v))
		}
	}
	cfg.LockTTL = orDefault(cfg.LockTTL, DefaultLockTTL)
	cfg.Retention = orDefault(cfg.Retention, DefaultRetention)
	cfg.MaxBody = orDefault(cfg.MaxBody, DefaultMaxBody)
	cfg.MaxResponse = orDefault(cfg.MaxResponse, DefaultMaxResponse)
	cfg.RetryAfter = orDefault(cfg.RetryAfter, DefaultRetryAfter)
	m := &middleware{cfg: cfg, newToken: rand.Text}
	m.methods = []string{http.MethodPost, http.MethodPatch}
	if cfg.Methods != nil {
		m.methods = slices.Clone(cfg.Methods)
	}
	hs := defaultHeaders
	if cfg.Headers != nil {
		hs = cfg.Headers
	}
	for _, h := range hs {
		m.headers = append(m.headers, http.CanonicalHeaderKey(h))
	}
	return m
}

func orDefault[T int | int64 | time.Duration](v, d T) T {
	if v == 0 {
		return d
	}
	return v
}

var (
	errNoKey      = problem.BadRequest("this request requires an Idempotency-Key header")
	errNoClient   = problem.BadRequest("cannot identify client")
	errBodyRead   = problem.BadRequest("cannot read request body")
	errTooLarge   = problem.PayloadTooLarge("request body too large for an idempotent request")
	errMismatch   = problem.New(http.StatusUnprocessableEntity, "this Idempotency-Key was used with a different request")
	errInFlight   = problem.Conflict("a request with this Idempotency-Key is still being processed")
	errStoreDown  = problem.Unavailable("idempotency store unavailable")
	errStoreFull  = problem.Unavailable("too many requests in flight")
	replayedValue = []string{"true"}
)

func (m *middleware) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if !slices.Contains(m.methods, r.Method) {
		next.ServeHTTP(w, r)
		return
	}
	values := r.Header.Values(Header)
	if len(values) == 0 {
		if m.cfg.Required {
			problem.Write(w, r, errNoKey)
			return
		}
		next.ServeHTTP(w, r)
		return
	}
	key, err := parseKey(values)
	if err != nil {
		problem.Write(w, r, problem.BadRequest(err.Error()))
		return
	}
	client, err := m.cfg.Key(r)
	if err != nil {
		var p *problem.Error
		if !errors.As(err, &p) {
			p = errNoClient
		}
		problem.Write(w, r, p)
		return
	}
	body, err := reqbody.Read(r, m.cfg.MaxBody, errTooLarge, errBodyRead)
	if err != nil {
		problem.Write(w, r, err)
		return
	}
	r = reqbody.Replace(r, body)
	sum := sha256.Sum256(body)
	fp := hex.EncodeToString(sum[:])
	sk := scopeKey(client, r, key)
	token := m.newToken()

	rec, acquired, err := m.cfg.Store.Acquire(r.Context(), sk, token, fp, m.cfg.LockTTL)
	switch {
	case errors.Is(err, ErrFull):
		m.retryLater(w, r, errStoreFull)
		return
	case err != nil:
		m.logf(r.Context(), slog.LevelError, "idempotency: store acquire failed", err)
		if m.cfg.FailOpen {
			next.ServeHTTP(w, r)
			return
		}
		m.retryLater(w, r, errStoreDown)
		return
	case !acquired && rec.Fingerprint != fp:
		problem.Write(w, r, errMismatch)
		return
	case !acquired && !rec.Done:
		m.retryLater(w, r, errInFlight)
		return
	case !acquired:
		replay(w, rec)
		return
	}
	m.run(next, w, r, sk, token, fp)
}

// run calls next with a recording writer and stores or releases the claim.
func (m *middleware) run(next http.Handler, w http.ResponseWriter, r *http.Request, sk, token, fp string) {
	rec := &recorder{ResponseWriter: w, max: m.cfg.MaxResponse, headers: m.headers}
	rw := respwrite.New(rec)
	ended := false
	defer func() {
		if !ended { // next panicked: let a retry run, then let the panic go on
			m.release(r, sk, token)
		}
	}()
	next.ServeHTTP(rw, r)
	ended = true

	status := rw.Status()
	if status == 0 {
		status = http.StatusOK // what the server sends for a handler that wrote nothing
	}
	if rw.Hijacked() || rec.over || !storable(status) {
		m.release(r, sk, token)
		return
	}
	rec.snapshot()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), storeTimeout)
	defer cancel()
	err := m.cfg.Store.Complete(ctx, sk, token, Record{Fingerprint: fp, Done: true, Status: status, Header: rec.header, Body: rec.buf}, m.cfg.Retention)
	if err != nil {
		m.logf(r.Context(), slog.LevelWarn, "idempotency: response not stored", err)
	}
}

func (m *middleware) release(r *http.Request, sk, token string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), storeTimeout)
	defer cancel()
	if err := m.cfg.Store.Release(ctx, sk, token); err != nil {
		m.logf(r.Context(), slog.LevelWarn, "idempotency: key not released; retries wait for the lock TTL", err)
	}
}

// storable reports whether a response with status may be replayed: not a
// server error and not an invitation to retry later.
func storable(status int) bool {
	return status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests &&
		status != http.StatusSwitchingProtocols
}

// scopeKey is the store key: a hash of the scope (client, method, route)
// and the key, each length-prefixed so no two tuples collide.
func scopeKey(client string, r *http.Request, key string) string {
	route := r.Pattern
	if route == "" {
		route = r.URL.EscapedPath()
	}
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, s := range []string{client, r.Method, route, key} {
		_, _ = h.Write(binary.AppendUvarint(n[:0], uint64(len(s))))
		_, _ = io.WriteString(h, s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (m *middleware) retryLater(w http.ResponseWriter, r *http.Request, p *problem.Error) {
	secs := (m.cfg.RetryAfter + time.Second - 1) / time.Second
	w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	problem.Write(w, r, p)
}

func replay(w http.ResponseWriter, rec Record) {
	h := w.Header()
	for k, vs := range rec.Header {
		h[k] = slices.Clone(vs)
	}
	h[ReplayedHeader] = replayedValue
	h.Set("Content-Length", strconv.Itoa(len(rec.Body)))
	w.WriteHeader(rec.Status)
	_, _ = w.Write(rec.Body)
}

func (m *middleware) logf(ctx context.Context, level slog.Level, msg string, err error) {
	suppressed, ok := m.throttle.Allow(time.Now())
	if !ok {
		return
	}
	l := m.cfg.Logger
	if l == nil {
		l = slog.Default()
	}
	l.Log(ctx, level, msg, "error", err, "suppressed", suppressed)
}

// recorder tees the response body into buf up to max bytes and snapshots
// the allowlisted headers when the response starts. respwrite.Writer wraps
// it, providing status tracking, Flush, Hijack, ReadFrom and Unwrap.
type recorder struct {
	http.ResponseWriter
	headers []string
	max     int
	buf     []byte
	over    bool
	header  http.Header
}

var _ interface{ Unwrap() http.ResponseWriter } = (*recorder)(nil)

func (w *recorder) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.snapshot()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	w.snapshot()
	if !w.over {
		if len(w.buf)+len(p) > w.max {
			w.over, w.buf = true, nil
		} else {
			w.buf = append(w.buf, p...)
		}
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// snapshot copies the allowlisted headers once, as they are when the
// response starts (later changes are not sent, so they are not stored).
func (w *recorder) snapshot() {
	if w.header != nil {
		return
	}
	w.header = make(http.Header, len(w.headers))
	src := w.ResponseWriter.Header()
	for _, k := range w.headers {
		if vs, ok := src[k]; ok {
			w.header[k] = slices.Clone(vs)
		}
	}
}
