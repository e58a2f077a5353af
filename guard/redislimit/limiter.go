package redislimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/internal/rediskey"
)

// ErrUnavailable is wrapped by the error Allow returns in [FailClosed] mode
// when it could not ask Redis: the call failed or timed out (the error also
// wraps that cause), or the limiter is cooling down after repeated failures
// (see [WithCooldown]). Match it with errors.Is. A call that timed out may
// still have run in Redis and recorded the event.
var ErrUnavailable = errors.New("redislimit: redis unavailable")

// errCoolingDown is returned in FailClosed mode while the circuit is open.
var errCoolingDown = fmt.Errorf("%w: cooling down after repeated failures", ErrUnavailable)

// DegradedMode is how a [Limiter] answers while it cannot reach Redis. The
// zero value is [FailClosed].
type DegradedMode int

const (
	// FailClosed admits nothing: Allow returns an error wrapping
	// [ErrUnavailable] and a zero Decision, and the caller's failure policy
	// applies. With guard.RateLimit that policy is
	// RateLimitConfig.FailClosed: set it to true so clients get a 503 problem
	// response, the honest answer to an outage (a 429 would blame the
	// client); left false, guard.RateLimit lets the request through. It is
	// the default because it hides nothing: the outage is visible to the
	// caller, who decides.
	FailClosed DegradedMode = iota

	// FailOpen admits everything: Allow returns Decision{Allowed: true} with
	// a zero Limit (so guard.RateLimit sends no RateLimit headers) and a nil
	// error. Choose it when availability matters more than the limit.
	FailOpen

	// FailLocal decides with a guard.MemoryLimiter holding the same Limit
	// (default MaxKeys; it starts empty and keeps its state across outages),
	// and returns its Decision and nil error. Each replica then enforces the
	// full limit by itself, so the effective global limit is the limit times
	// the number of replicas: a degraded but still bounded service.
	FailLocal
)

// String returns "FailClosed", "FailOpen" or "FailLocal".
func (m DegradedMode) String() string {
	switch m {
	case FailClosed:
		return "FailClosed"
	case FailOpen:
		return "FailOpen"
	case FailLocal:
		return "FailLocal"
	}
	return "DegradedMode(" + strconv.Itoa(int(m)) + ")"
}

// attr returns the value of the chassis.degraded_mode attribute.
func (m DegradedMode) attr() string {
	switch m {
	case FailOpen:
		return "open"
	case FailLocal:
		return "local"
	}
	return "closed"
}

// Limiter is a [guard.Limiter] whose state lives in Redis, so that every
// replica of a service shares one limit per key. Build it with [New]; the
// zero Limiter is not usable. It is safe for concurrent use and starts no
// goroutine of its own (but see [New] for clients without
// ContextTimeoutEnabled); it needs no closing. Closing the Redis client is
// the caller's business: after that, Allow answers in the degraded mode.
type Limiter struct {
	client  redis.UniversalClient
	script  *redis.Script
	limit   guard.Limit
	params  params
	args    []any // the script's ARGV: T and L in µs
	prefix  string
	timeout time.Duration
	mode    DegradedMode
	local   *guard.MemoryLimiter // FailLocal only
	circuit circuit
	deny    *denyCache // nil when disabled
	now     func() time.Time
	base    time.Time
	ctxIO   bool // the client bounds socket I/O by the context's deadline
	metrics *metrics
}

// New returns a Limiter applying l to each key, with its state in Redis
// through client (a *redis.Client, *redis.ClusterClient, *redis.Ring or
// failover client; the limiter does not close it). A zero l.Burst means
// l.Rate. The Limiter implements guard.Limiter, so it plugs into
// guard.RateLimit (set RateLimitConfig.FailClosed together with
// [FailClosed]; see [DegradedMode]).
//
// Each decision is one round trip: a Lua script (sent once, then run by its
// SHA1 with EVALSHA; after a SCRIPT FLUSH or a failover go-redis falls back to
// EVAL, which caches it again) that runs guard's GCRA on Redis server time
// (TIME) and writes the key with an expiry at full replenishment, so idle
// keys leave Redis by themselves. See the package doc for the arithmetic and
// its microsecond resolution.
//
// The per-call timeout ([WithTimeout]) needs the client to bound socket
// reads and writes by the context's deadline, which go-redis does only with
// Options.ContextTimeoutEnabled (ClusterOptions, RingOptions and
// FailoverOptions have the same field). New looks: when the client does not
// have it, or is not one of go-redis's types, each Redis call runs on its own
// goroutine, and Allow returns at the timeout while that goroutine waits for
// the client's ReadTimeout (5s by default), holding a pool connection. Build
// the client with ContextTimeoutEnabled: true to avoid that cost.
//
// Panics if client is nil, l is invalid (guard.Limit.Validate) or its window
// Burst*Per/Rate exceeds 2^52µs, or an option is out of range, with a
// message such as "redislimit.New: Limit.Rate must be > 0, got 0".
func New(client redis.UniversalClient, l guard.Limit, opts ...Option) *Limiter {
	ctxIO, nilClient := inspect(client)
	if nilClient {
		panic("redislimit.New: client is nil; pass a *redis.Client or another redis.UniversalClient")
	}
	if err := l.Validate(); err != nil {
		panic("redislimit.New: " + strings.TrimPrefix(err.Error(), "guard: "))
	}
	if l.Burst == 0 {
		l.Burst = l.Rate
	}
	p, err := paramsOf(l)
	if err != nil {
		panic("redislimit.New: " + err.Error())
	}
	cfg := config{
		prefix:    DefaultPrefix,
		timeout:   DefaultTimeout,
		failures:  DefaultCooldownFailures,
		cooldown:  DefaultCooldown,
		denyCache: true,
	}
	for _, o := range opts {
		if o != nil { // a nil option is ignored (CONTRIBUTING.md)
			o(&cfg)
		}
	}
	if err := rediskey.CheckPrefix(cfg.prefix); err != nil {
		panic("redislimit.New: " + err.Error())
	}
	switch {
	case cfg.timeout <= 0:
		panic(fmt.Sprintf("redislimit.New: WithTimeout must be > 0, got %v", cfg.timeout))
	case cfg.failures < 1:
		panic(fmt.Sprintf("redislimit.New: WithCooldown failures must be >= 1, got %d", cfg.failures))
	case cfg.cooldown <= 0:
		panic(fmt.Sprintf("redislimit.New: WithCooldown duration must be > 0, got %v", cfg.cooldown))
	case cfg.mode < FailClosed || cfg.mode > FailLocal:
		panic(fmt.Sprintf("redislimit.New: WithDegraded(%v) is not a mode; use FailClosed, FailOpen or FailLocal", cfg.mode))
	}
	now := cfg.now
	if now == nil {
		now = time.Now
	}
	lim := &Limiter{
		client:  client,
		script:  newScript(),
		limit:   l,
		params:  p,
		args:    []any{strconv.FormatInt(p.interval, 10), strconv.FormatInt(p.window, 10)},
		prefix:  cfg.prefix,
		timeout: cfg.timeout,
		mode:    cfg.mode,
		circuit: circuit{threshold: cfg.failures, cooldown: int64(cfg.cooldown)},
		now:     now,
		base:    now(),
		ctxIO:   ctxIO,
		metrics: newMetrics(cfg.mp, cfg.mode),
	}
	if cfg.denyCache {
		lim.deny = newDenyCache(DenyCacheSize)
	}
	if cfg.mode == FailLocal {
		mopts := []guard.MemoryOption{guard.WithMeterProvider(cfg.mp)}
		if cfg.now != nil {
			mopts = append(mopts, guard.WithClock(cfg.now))
		}
		lim.local = guard.NewMemoryLimiter(l, mopts...)
	}
	return lim
}

// inspect reports whether client bounds socket I/O by context deadlines, and
// whether it is nil (including a nil pointer of a go-redis type).
func inspect(client redis.UniversalClient) (ctxIO, isNil bool) {
	switch c := client.(type) {
	case nil:
		return false, true
	case *redis.Client:
		return c != nil && c.Options().ContextTimeoutEnabled, c == nil
	case *redis.ClusterClient:
		return c != nil && c.Options().ContextTimeoutEnabled, c == nil
	case *redis.Ring:
		return c != nil && c.Options().ContextTimeoutEnabled, c == nil
	}
	return false, false
}

// Limit returns the limit the limiter applies, with a zero Burst replaced by
// Rate.
func (l *Limiter) Limit() guard.Limit { return l.limit }

// Kind returns "redis", the chassis.limiter attribute guard.RateLimit
// records for this limiter.
func (l *Limiter) Kind() string { return "redis" }

// RedisKey returns the Redis key that holds key's state: the prefix followed
// by key in braces, "chassis:rl:{client-42}", so that the key is its own
// Redis Cluster hash tag. A key longer than 256 bytes, or containing '{' or
// '}' (which would change the hash tag), is replaced by the hex SHA-256 of
// its bytes followed by '#' after the closing brace,
// "chassis:rl:{9f86…0a08}#"; the '#' keeps it apart from any literal key.
// Deleting the Redis key resets the key's allowance.
func (l *Limiter) RedisKey(key string) string { return redisKey(l.prefix, key) }

// Allow reports whether an event for key may happen now and, if so, records
// it in Redis. Every key is a separate allowance, the empty key included.
//
// With Redis healthy, it returns the GCRA's Decision and a nil error; a
// denial may come from the deny cache ([WithDenyCache]) without a Redis
// call. When Redis fails or does not answer within the timeout, or while the
// limiter cools down after repeated failures, Allow answers according to the
// [DegradedMode]: a Decision and nil error for FailOpen and FailLocal, an
// error wrapping [ErrUnavailable] for FailClosed.
//
// If ctx is done before or during the call, Allow returns ctx.Err() and a
// zero Decision, and the call counts neither as a Redis failure nor as a
// degraded decision (the event may or may not have been recorded). Allow
// returns by ctx's deadline or the limiter's timeout, whichever is earlier
// (plus scheduling), even when Redis hangs; with a client that lacks
// ContextTimeoutEnabled, the goroutine running the Redis call may outlive
// Allow until the client's own timeouts end it (see [New]).
func (l *Limiter) Allow(ctx context.Context, key string) (guard.Decision, error) {
	if err := ctx.Err(); err != nil {
		return guard.Decision{}, err
	}
	rkey := redisKey(l.prefix, key)
	now := l.nanos()
	if l.deny != nil {
		if retry, reset, ok := l.deny.get(rkey, now); ok {
			l.metrics.hits.Add(ctx, 1)
			return guard.Decision{
				Limit:      l.limit,
				RetryAfter: time.Duration(retry),
				ResetAfter: time.Duration(reset),
			}, nil
		}
	}
	ok, probe := l.circuit.admit(now)
	if !ok {
		return l.degraded(ctx, rkey, nil)
	}
	d, err := l.call(ctx, rkey)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			// The caller gave up; that says nothing about Redis.
			l.circuit.abandon(probe)
			return guard.Decision{}, ctxErr
		}
		l.metrics.countError(ctx, err)
		l.circuit.failure(l.nanos(), probe)
		return l.degraded(ctx, rkey, err)
	}
	l.circuit.success(probe)
	if !d.Allowed && l.deny != nil {
		// Cache from the time the call started, so the local denial never
		// outlasts Redis's.
		l.deny.put(rkey, now, int64(d.RetryAfter), int64(d.ResetAfter))
	}
	return d, nil
}

// nanos returns local time as nanoseconds since New (monotonic for
// time.Now).
func (l *Limiter) nanos() int64 { return int64(l.now().Sub(l.base)) }

type result struct {
	d   guard.Decision
	err error
}

// call runs the script with the limiter's timeout. If the client does not
// bound socket I/O by the deadline, the call runs on its own goroutine, which
// may outlive call until the client's own timeouts end it.
func (l *Limiter) call(ctx context.Context, rkey string) (guard.Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if l.ctxIO {
		return l.run(ctx, rkey)
	}
	ch := make(chan result, 1)
	go func() {
		d, err := l.run(ctx, rkey)
		ch <- result{d, err}
	}()
	select {
	case r := <-ch:
		return r.d, r.err
	case <-ctx.Done():
		return guard.Decision{}, ctx.Err()
	}
}

func (l *Limiter) run(ctx context.Context, rkey string) (guard.Decision, error) {
	v, err := l.script.Run(ctx, l.client, []string{rkey}, l.args...).Result()
	if err != nil {
		return guard.Decision{}, err
	}
	allowed, reset, err := parseReply(v)
	if err != nil {
		return guard.Decision{}, err
	}
	return l.params.decide(l.limit, allowed, reset), nil
}

// degraded answers without Redis according to the mode. cause is the
// failed call's error, or nil during a cooldown.
func (l *Limiter) degraded(ctx context.Context, rkey string, cause error) (guard.Decision, error) {
	l.metrics.degraded.Add(ctx, 1, l.metrics.mode...)
	switch l.mode {
	case FailOpen:
		return guard.Decision{Allowed: true}, nil
	case FailLocal:
		return l.local.Allow(ctx, rkey)
	}
	if cause == nil {
		return guard.Decision{}, errCoolingDown
	}
	return guard.Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, cause)
}
