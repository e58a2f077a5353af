// Package redislimit provides a distributed [guard.Limiter] that keeps its
// state in Redis, so that all replicas of a service share one rate limit per
// key instead of each admitting the full limit. [New] builds one; plug it
// into guard.RateLimit (or the gRPC rate-limit interceptor) where a
// guard.MemoryLimiter would go:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	limiter := redislimit.New(rdb, guard.PerMinute(100), // 100/min per client across all replicas
//		redislimit.WithDegraded(redislimit.FailLocal))
//	limit := guard.RateLimit(guard.RateLimitConfig{Limiter: limiter, Key: guard.ClientIP(proxies...)})
//
// It is the only chassis package that imports the Redis client.
//
// # Algorithm
//
// Decisions are exactly those of guard.MemoryLimiter (GCRA: one timestamp per
// key, Burst events at once, then Rate per Per), computed by one Lua script
// in one round trip per decision. The script reads Redis server time (TIME),
// so clock skew between replicas does not matter, and it stores the key's
// theoretical arrival time as integer microseconds with an expiry at the
// moment the key is fully replenished: a key that is not in use holds no
// memory in Redis. Denials do not write.
//
// Resolution is one microsecond: the interval Per/Rate is rounded up to a
// whole microsecond (so the limiter is never more permissive than the
// Limit; for instance Rate 3 per second spaces events by 333,334µs), and
// RetryAfter and ResetAfter are whole microseconds. For limits whose interval
// is a whole number of microseconds, decisions, Remaining, RetryAfter and
// ResetAfter equal guard.MemoryLimiter's for the same sequence of events at
// the same times. Limits faster than one event per microsecond per key run at
// one per microsecond.
//
// # Keys
//
// A key's state is stored under prefix{key} (prefix "chassis:rl:" unless
// [WithPrefix] says otherwise), so that the key is its own Redis Cluster hash
// tag. Keys longer than 256 bytes or containing braces are stored under their
// SHA-256 instead; [Limiter.RedisKey] documents the exact form.
//
// # When Redis fails
//
// Every Redis call is bounded by a timeout ([WithTimeout], 50ms by default).
// A call that fails or times out is answered in the limiter's
// [DegradedMode], chosen with [WithDegraded]: [FailClosed] (the default)
// returns an error wrapping [ErrUnavailable], so guard.RateLimit applies its
// own FailClosed policy (set it to answer 503); [FailOpen] admits; [FailLocal]
// falls back to a per-process guard.MemoryLimiter with the same limit (which
// multiplies the effective limit by the number of replicas). After several
// consecutive failures the limiter stops calling Redis for a cooldown and
// then probes it with one call at a time ([WithCooldown]), so an outage costs
// callers the timeout a few times, not on every request.
//
// Denials are cached locally until their RetryAfter passes ([WithDenyCache],
// on by default), so a client hammering one key costs Redis one call per
// RetryAfter instead of one per request, while getting the same answer.
//
// # Metrics
//
// Through the OpenTelemetry metric API (a no-op until the application
// installs a MeterProvider), under the instrumentation scope
// github.com/chassis-go/chassis/guard/redislimit, the limiter counts:
//
//   - chassis.redislimit.errors ({error}): failed Redis calls, by error.type:
//     timeout, connection, script (Redis answered with an error, such as a
//     script error, WRONGTYPE or READONLY, or with an unexpected reply) or
//     other;
//   - chassis.redislimit.degraded ({decision}): decisions made without Redis,
//     by chassis.degraded_mode = open, closed or local;
//   - chassis.redislimit.deny_cache.hits ({hit}): denials answered from the
//     deny cache.
//
// guard.RateLimit records its decisions with chassis.limiter=redis for this
// limiter. Attributes never include client keys.
package redislimit
