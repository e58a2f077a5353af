// Package redislock provides a [tick.Locker] on Redis, so that a job runs
// on one replica at a time. [New] builds one from a go-redis client; pass it
// to tick.WithLock:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	job := tick.Every("purge-notes", time.Hour, purge, tick.WithLock(redislock.New(rdb)))
//
// # Protocol
//
// A lease is one key, prefix{name}:lease, set with SET NX PX to a random
// token of its holder, so only the holder can renew or delete it: renewal
// (every TTL/3 while the run lasts) and release are Lua scripts that
// compare the token before PEXPIRE or DEL. Each acquisition also increments
// a counter, prefix{name}:fence, in the same script; its value is the
// lease's fencing token, which the run reads with tick.FencingToken. Both
// keys carry the job name as their hash tag, so they work on Redis Cluster.
//
// # Failures
//
// A failed renewal (Redis unreachable, a timeout, the client closed, the
// key gone) makes the holder give the lease up at once: its Lost channel
// closes and tick cancels the run's context. Each call is bounded by TTL/3,
// so the holder knows it lost the lease before the key expires. A replica
// that dies mid-run leaves its key until the TTL passes; then another
// replica takes over at its next tick. A lease is not a perfect mutex (a
// holder paused longer than the TTL may still act after losing it): writes
// that must not interleave should carry the fencing token.
//
// Fencing tokens only grow while Redis keeps the counter: a master that
// restarts without persistence, or a failover to a replica that had not yet
// received the last INCR (replication is asynchronous), can hand out a token
// again. Where fencing matters, run Redis with AOF (appendfsync always) or
// accept that window; the tests show it on a cluster whose master is
// stopped and restarted.
//
// It is one of the few chassis packages that import the Redis client.
package redislock
