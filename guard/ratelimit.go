package guard

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/metric"

	"github.com/chassis-go/chassis/internal/ratecore"
	"github.com/chassis-go/chassis/problem"
)

// RateLimitConfig configures [RateLimit]. Limiter and Key are required; every
// other zero field means the documented default. RateLimit copies the config.
type RateLimitConfig struct {
	// Limiter decides each request, typically a [MemoryLimiter] or a
	// guard/redislimit Limiter. Required.
	Limiter Limiter

	// Key names the client a request is counted against, typically
	// [RemoteIP] or [ClientIP]. Required. A Key error means the client
	// cannot be identified: the limiter is not consulted, the handler is not
	// called, and the error is logged at Warn level. The answer is the
	// *problem.Error the error is or wraps, if any (so a custom KeyFunc can
	// answer 401), and otherwise a 400 problem "cannot identify client".
	// grpckit's rate limiting follows the same rule.
	Key KeyFunc

	// FailClosed chooses what happens when the Limiter returns an error (for
	// example Redis is unreachable): false (the default) fails open, calling
	// the handler as if the request had been allowed, without RateLimit
	// headers; true fails closed with a 503 problem. Either way the error is
	// logged at Error level and counted as chassis.decision=error.
	FailClosed bool

	// Exempt, if non-nil, is called first; requests for which it returns
	// true (health probes, say) skip rate limiting entirely: no key, no
	// limiter call, no headers, no metrics. It must be safe for concurrent
	// use.
	Exempt func(*http.Request) bool

	// PolicyName is the name of the quota policy in the RateLimit and
	// RateLimit-Policy headers. Empty means "default". It must be printable
	// ASCII.
	PolicyName string

	// Logger receives key and limiter errors, at most one record per kind per
	// second (with a "suppressed" count of the records dropped since), so a
	// flood of bad requests cannot flood the logs. Nil means slog.Default()
	// at the time of logging. Records carry no client-supplied key.
	Logger *slog.Logger

	// MeterProvider receives the chassis.ratelimit.decisions counter
	// ({decision}; attributes chassis.decision = allowed / denied / error and
	// chassis.limiter). Nil means otel.GetMeterProvider() when RateLimit is
	// called. chassis.limiter is "memory" for a *MemoryLimiter, the result
	// of a Kind() string method if the Limiter has one (guard/redislimit's
	// returns "redis"), and "other" otherwise.
	MeterProvider metric.MeterProvider
}

// RateLimit returns middleware that admits requests while cfg.Limiter allows
// their key (cfg.Key), following draft-ietf-httpapi-ratelimit-headers-11
// (May 2026) for the headers:
//
//   - Allowed: the response carries RateLimit-Policy and RateLimit headers,
//     for example
//     RateLimit-Policy: "default";q=100;w=60 (quota q requests per window of w
//     seconds: the Limit's Rate per Per, rounded up to whole seconds and
//     scaled accordingly) and RateLimit: "default";r=42;t=30 (r is
//     Decision.Remaining; t is Decision.ResetAfter in whole seconds, rounded
//     up), then next is called. The headers are omitted when the Decision
//     has a zero Limit.
//   - Denied: 429 Too Many Requests with a problem+json body, the same
//     headers (r=0) and Retry-After: the real wait (Decision.RetryAfter) in
//     whole seconds, rounded up and at least 1. next is not called.
//   - Key error: the *problem.Error in the error's chain, else a 400
//     problem "cannot identify client"; next is not called.
//   - Limiter error: see RateLimitConfig.FailClosed.
//
// The middleware does not wrap the ResponseWriter, so every optional
// interface of w reaches next unchanged. Key functions decide whether
// X-Forwarded-For is trusted (see [ClientIP]). Mount RateLimit early, before
// handlers that do expensive work, and after the middleware that recovers
// panics and logs requests so 429s are logged.
//
// Panics if cfg.Limiter or cfg.Key is nil or cfg.PolicyName is not printable
// ASCII.
func RateLimit(cfg RateLimitConfig) func(http.Handler) http.Handler {
	if cfg.Limiter == nil {
		panic("guard.RateLimit: cfg.Limiter is nil; build one with guard.NewMemoryLimiter")
	}
	if cfg.Key == nil {
		panic("guard.RateLimit: cfg.Key is nil; use guard.RemoteIP() or guard.ClientIP(proxies...)")
	}
	key := cfg.Key
	name := cfg.PolicyName
	if name == "" {
		name = "default"
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] > 0x7e {
			panic("guard.RateLimit: cfg.PolicyName " + strconv.Quote(name) + " is not printable ASCII; use a plain name such as \"default\"")
		}
	}
	rl := &rateLimiter{
		core: ratecore.New(ratecore.Config[*http.Request, Decision]{
			Name:    "guard",
			Scope:   limiterScope,
			Limiter: cfg.Limiter,
			Allowed: decisionAllowed,
			Kind:    limiterKind(cfg.Limiter),
			Key: func(_ context.Context, r *http.Request) (string, error) {
				return key(r)
			},
			Exempt:        cfg.Exempt,
			FailClosed:    cfg.FailClosed,
			Logger:        cfg.Logger,
			MeterProvider: cfg.MeterProvider,
		}),
		item:   sfString(name),
		denied: problem.Prepare(problem.TooManyRequests("rate limit exceeded")),
		noKey:  problem.BadRequest("cannot identify client"),
		failed: problem.Unavailable("rate limiter unavailable"),
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("guard.RateLimit: next handler is nil")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rl.serve(w, r, next)
		})
	}
}

func decisionAllowed(d Decision) bool { return d.Allowed }

func limiterKind(l Limiter) string {
	_, memory := l.(*MemoryLimiter)
	return ratecore.Kind(l, memory)
}

// rateLimiter renders the decisions of its core as HTTP answers.
type rateLimiter struct {
	core *ratecore.Core[*http.Request, Decision]
	item string // the policy name as a structured-field string, quoted

	denied        *problem.Prepared // the same body for every denial
	noKey, failed *problem.Error

	policy atomic.Pointer[policyHeader] // last RateLimit-Policy built
	arenas sync.Pool                    // of *headerArena, for RateLimit values
}

type policyHeader struct {
	limit Limit
	value []string
}

func (rl *rateLimiter) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	res := rl.core.Decide(r.Context(), r)
	switch res.Verdict {
	case ratecore.Exempt, ratecore.FailedOpen:
		next.ServeHTTP(w, r)
		return
	case ratecore.NoKey:
		if res.Problem != nil {
			problem.Write(w, r, res.Problem)
		} else {
			problem.Write(w, r, rl.noKey.Wrap(res.Err))
		}
		return
	case ratecore.FailedClosed:
		problem.Write(w, r, rl.failed.Wrap(res.Err))
		return
	}
	d := res.Decision
	h := w.Header()
	limited := d.Limit.Rate > 0 && d.Limit.Per > 0
	if limited {
		h["Ratelimit-Policy"] = rl.policyHeader(d.Limit)
	}
	if res.Verdict != ratecore.Denied {
		if limited {
			h["Ratelimit"] = rl.rateLimitHeader(d)
		}
		next.ServeHTTP(w, r)
		return
	}
	rateLimit, retryAfter := rl.deniedHeaders(d, limited)
	if limited {
		h["Ratelimit"] = rateLimit
	}
	h["Retry-After"] = retryAfter
	rl.denied.Write(w, r)
}

// deniedHeaders returns the RateLimit value (if limited) and the Retry-After
// value of a denial, both in one allocation unless the policy name is too
// long for its buffer (append then moves the bytes to a new array, which
// nothing writes to after the strings are made either).
func (rl *rateLimiter) deniedHeaders(d Decision, limited bool) (rateLimit, retryAfter []string) {
	v := new(deniedValues)
	b := v.buf[:0]
	if limited {
		b = appendRateLimit(b, rl.item, int64(max(d.Remaining, 0)), ceilSeconds(d.ResetAfter, 0))
		v.s[0] = unsafe.String(unsafe.SliceData(b), len(b))
		rateLimit = v.s[0:1:1]
	}
	n := len(b)
	b = strconv.AppendInt(b, ceilSeconds(d.RetryAfter, 1), 10)
	v.s[1] = unsafe.String(&b[n], len(b)-n)
	return rateLimit, v.s[1:2:2]
}

// deniedValues holds the RateLimit and Retry-After values of a denial and
// their []strings: 112 bytes, room for a policy name of 14 bytes with
// 20-digit numbers. Nothing writes to buf after the strings are made.
type deniedValues struct {
	s   [2]string
	buf [80]byte
}

// policyHeader returns the RateLimit-Policy value for l, reusing the last one
// built while the limit does not change. The returned slice is shared and
// must not be modified (http.Header values are only read by the server).
func (rl *rateLimiter) policyHeader(l Limit) []string {
	if p := rl.policy.Load(); p != nil && p.limit == l {
		return p.value
	}
	// w: the period in whole seconds, rounded up (the draft allows no
	// sub-second window); q: the quota over that window.
	w := ceilSeconds(l.Per, 1)
	q := int64(math.Floor(float64(l.Rate) * float64(w) * float64(time.Second) / float64(l.Per)))
	b := make([]byte, 0, len(rl.item)+32)
	b = append(b, rl.item...)
	b = append(b, ";q="...)
	b = strconv.AppendInt(b, q, 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, w, 10)
	p := &policyHeader{limit: l, value: []string{string(b)}}
	rl.policy.Store(p)
	return p.value
}

// rateLimitHeader returns the RateLimit header value for d. The value
// changes with every decision, so it cannot be built once like the policy;
// instead values are carved from an arena of 32, one allocation per 32
// requests instead of one per request (the allocation and the garbage
// collection it caused were about a sixth of the allowed path). A carved
// value is never written again, so handing it to a header map is as safe as
// a fresh string; the slice's capacity is clipped to 1, so an Add on that
// header copies instead of overwriting a neighbour. An arena stays in memory
// (2.5 KB) while any of its values is referenced.
func (rl *rateLimiter) rateLimitHeader(d Decision) []string {
	r := int64(max(d.Remaining, 0))
	t := ceilSeconds(d.ResetAfter, 0)
	if len(rl.item)+maxRateLimitNumbers > arenaValueMax {
		// A long policy name: two allocations instead of a carved value.
		var buf [64]byte
		return []string{string(appendRateLimit(buf[:0], rl.item, r, t))}
	}
	a, _ := rl.arenas.Get().(*headerArena)
	if a == nil {
		a = new(headerArena)
	}
	v := a.add(appendRateLimit(a.free(), rl.item, r, t))
	if a.n < len(a.vals) {
		rl.arenas.Put(a) // a full arena is left to the values that use it
	}
	return v
}

// maxRateLimitNumbers is the most appendRateLimit adds to the item: ";r=",
// ";t=" and two int64s.
const maxRateLimitNumbers = 2 * (3 + 20)

// arenaValueMax is the longest value a headerArena holds.
const arenaValueMax = 64

// headerArena holds header values, and the one-element slices that hold
// them, for several requests in one object. Only the goroutine that took it
// from the pool writes to it, and only to the part not yet carved.
type headerArena struct {
	vals [32]string
	buf  [32 * arenaValueMax]byte
	n    int // values carved
	off  int // bytes of buf used
}

// free returns the uncarved part of buf, empty, to append one value of at
// most arenaValueMax bytes to.
func (a *headerArena) free() []byte { return a.buf[a.off:a.off:len(a.buf)] }

// add carves b, which free returned with a value appended, and returns it
// as a header value.
func (a *headerArena) add(b []byte) []string {
	if len(b) > 0 {
		a.vals[a.n] = unsafe.String(&b[0], len(b))
	}
	a.off += len(b)
	a.n++
	return a.vals[a.n-1 : a.n : a.n]
}

func appendRateLimit(b []byte, item string, r, t int64) []byte {
	b = append(b, item...)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, r, 10)
	b = append(b, ";t="...)
	return strconv.AppendInt(b, t, 10)
}

// ceilSeconds returns d in whole seconds, rounded up, and at least least.
func ceilSeconds(d time.Duration, least int64) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return max(s, least)
}

// sfString quotes s as an RFC 9651 structured-field String. s is printable
// ASCII.
func sfString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
