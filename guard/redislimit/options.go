package redislimit

import (
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Defaults of the options.
const (
	// DefaultPrefix is the Redis key prefix when WithPrefix is not given.
	DefaultPrefix = "chassis:rl:"
	// DefaultTimeout bounds each Redis call when WithTimeout is not given.
	DefaultTimeout = 50 * time.Millisecond
	// DefaultCooldownFailures and DefaultCooldown are the circuit settings
	// when WithCooldown is not given: 5 consecutive failures stop calls to
	// Redis for 1s.
	DefaultCooldownFailures = 5
	DefaultCooldown         = time.Second
)

// Option configures a [Limiter].
type Option func(*config)

type config struct {
	prefix    string
	timeout   time.Duration
	mode      DegradedMode
	failures  int
	cooldown  time.Duration
	denyCache bool
	now       func() time.Time
	mp        metric.MeterProvider
}

// WithPrefix sets the prefix of every Redis key the limiter writes; the
// default is [DefaultPrefix], "chassis:rl:". Give each limit its own prefix
// when several limits share one Redis (for example "api:rl:" and
// "login:rl:"): limiters with the same prefix share the keys' state, which
// is what replicas of one service want and what two different limits do not.
// [New] panics if p contains '{' or '}' (the user key's braces form the
// Redis Cluster hash tag). The empty prefix is allowed.
func WithPrefix(p string) Option { return func(c *config) { c.prefix = p } }

// WithTimeout bounds each Redis call, connection and pool wait included, to
// d; the default is [DefaultTimeout], 50ms. It bounds the latency the limiter
// adds when Redis is slow or unreachable: after d, Allow answers in the
// degraded mode. The caller's context still applies: an earlier deadline of
// ctx ends the call sooner (and Allow returns ctx.Err()). [New] panics if d
// <= 0.
//
// go-redis retries failed commands (Options.MaxRetries, 3 by default) inside
// this bound. It honours the deadline on socket reads and writes only if the
// client was built with ContextTimeoutEnabled; see [New] for what the
// limiter does when it was not.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithDegraded chooses how Allow answers while Redis cannot: after a failed
// or timed-out call and during a cooldown (see [WithCooldown]). The default
// is [FailClosed]. [New] panics for a value other than the three modes.
func WithDegraded(mode DegradedMode) Option { return func(c *config) { c.mode = mode } }

// WithCooldown sets the circuit that spares Redis, and the callers, a timeout
// per request during an outage: after failures consecutive failed calls the
// limiter stops calling Redis for d and answers in its degraded mode; then
// one call at a time probes Redis (other calls stay degraded meanwhile): a
// success resumes normal operation, a failure starts another cooldown of d.
// Time is read from the limiter's clock (see [WithClock]). The defaults are
// [DefaultCooldownFailures] (5) and [DefaultCooldown] (1s). A call ended by
// the caller's own context is neither a success nor a failure. [New] panics
// if failures < 1 or d <= 0.
func WithCooldown(failures int, d time.Duration) Option {
	return func(c *config) { c.failures, c.cooldown = failures, d }
}

// WithDenyCache turns the deny cache on (the default) or off. With it, a
// key that Redis denied with RetryAfter t is denied locally, without a Redis
// call, until t has passed on the limiter's clock; the local answer is the
// same as Redis's would be (Allowed false, Remaining 0, RetryAfter and
// ResetAfter counting down). No key can be admitted during that time on any
// replica (a denial changes nothing in Redis, and the next admission is t
// away), so caching loses nothing; it only spares Redis the round trips of a
// client hammering one key. The cache holds at most [DenyCacheSize] keys;
// when full it forgets expired entries first, then those closest to expiry.
// A forgotten key is simply asked of Redis again.
func WithDenyCache(on bool) Option { return func(c *config) { c.denyCache = on } }

// WithClock makes the limiter read local time from now instead of time.Now.
// now must be safe for concurrent use; nil means time.Now. Local time only
// drives the deny cache, the cooldown and the FailLocal limiter: the GCRA
// itself always runs on Redis server time, so clock skew between replicas
// does not matter.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithMeterProvider sets the MeterProvider the limiter reports to (see the
// package doc's Metrics section). nil means otel.GetMeterProvider() at the
// time New is called. With FailLocal it is also passed to the local
// guard.MemoryLimiter.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }
