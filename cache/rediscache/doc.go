// Package rediscache puts a shared Redis tier behind an in-process
// [cache.Cache], for values that are expensive to compute on every replica.
// [New] builds one from any redis.UniversalClient; [Cache.GetOrLoad] looks in
// process memory, then in Redis, then calls the loader, and [Cache.Set] and
// [Cache.Delete] on one replica make the others drop their local copies.
//
//	users := rediscache.New(rdb, rediscache.Config[User]{
//		Local: cache.Config[string, User]{Name: "users", MaxEntries: 10_000, TTL: 30 * time.Second},
//		TTL:   10 * time.Minute, // in Redis
//	})
//	defer users.Close()
//	u, err := users.GetOrLoad(ctx, id, loadUserFromDB)
//	...
//	err = users.Set(ctx, id, updated) // after the database write; other replicas drop their copy
//
// # Consistency
//
// Set and Delete update Redis and publish the key on a pub/sub channel
// (Prefix + "invalidate"); every other replica deletes the key from its local
// tier when the message arrives, and reads Redis on its next lookup. Pub/sub
// is fire-and-forget: a replica that is disconnected when a message is sent
// never gets it. So each replica clears its whole local tier whenever it
// (re)subscribes, and the local tier's TTL bounds how long a replica can
// serve a value it missed an invalidation for. Keep that TTL short; the
// Redis TTL can be long.
//
// Loads fill Redis with SET NX, never overwriting a value a Set wrote in
// the meantime, and a Delete leaves a short-lived tombstone (as long as a
// load may run) instead of removing the key, so that a load that read the
// old value before the Delete cannot write it back. Stored values are one
// format byte followed by the codec's bytes ([JSON] by default).
//
// # Why pub/sub and not client-side caching
//
// go-redis v9 supports RESP3 client-side caching (CLIENT TRACKING), but it
// caches raw replies inside the client, configured on the client's own
// options: it would not follow this package's bound, loader, singleflight,
// negative caching or stale serving, it would cache encoded bytes (decoding
// them on every hit), and it needs RESP3 and Redis 6 or later. Our own
// invalidation channel works with any redis.UniversalClient as given, with
// RESP2, with Redis Cluster and Sentinel, and with miniredis in tests. The
// price: writes that bypass this package (another program writing the keys)
// are not seen until the local TTL ends.
//
// # Redis Cluster
//
// Each command touches one key, so keys carry no hash tag: they spread over
// all slots, and no command ever needs two of them on one node. Classic
// pub/sub works in a cluster, but every PUBLISH is broadcast over the
// cluster bus to every node, so each invalidation costs cluster-wide
// bandwidth; with many writes per second on a large cluster, prefer fewer,
// coarser caches or a shorter local TTL with fewer invalidations. (Sharded
// pub/sub would confine messages to one shard, but a single invalidation
// channel would then put all of them on that one shard.)
//
// # Failures
//
// Redis is an optimization here, never a dependency of the request: each
// Redis call is bounded by Config.Timeout (100ms by default), and a failed
// or slow call, or a value the codec cannot decode, is counted, logged (at
// most once per second) and treated as a Redis miss, so GetOrLoad falls
// back to the loader. Set and Delete always update the local tier and
// return an error when Redis or the other replicas could not be told. The
// listener reconnects with backoff and clears the local tier when it is
// subscribed again.
//
// # Goroutines
//
// New starts one goroutine, the invalidation listener, and the local tier
// runs loads on goroutines of its own (see [cache.Cache.GetOrLoad]).
// [Cache.Close] stops and waits for all of them; it does not close the
// Redis client.
//
// # Metrics
//
// Besides the local tier's chassis.cache.* metrics, with scope
// github.com/chassis-go/chassis/cache/rediscache and the attribute
// chassis.cache.name:
//
//   - chassis.rediscache.lookups ({lookup}): Redis lookups after a local
//     miss; chassis.cache.result = hit, miss (tombstones included) or error.
//   - chassis.rediscache.errors ({error}): failed Redis calls;
//     chassis.rediscache.op = get, fill, set, delete or subscribe, and
//     error.type = timeout, connection, server, decode, encode or other.
//   - chassis.rediscache.invalidations.sent and .received ({message}).
//   - chassis.rediscache.resyncs ({resync}): local tier cleared on
//     (re)subscribing.
package rediscache
