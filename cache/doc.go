// Package cache provides a bounded in-process key-value cache with TTL,
// loaders with per-key singleflight, and stale serving. Most callers need
// [New] and [Cache.GetOrLoad]:
//
//	users := cache.New(cache.Config[int64, User]{
//		Name:                 "users",
//		MaxEntries:           50_000,
//		TTL:                  5 * time.Minute,
//		StaleWhileRevalidate: time.Minute, // serve the old record while one refresh runs
//		StaleIfError:         10 * time.Minute,
//		NegativeTTL:          30 * time.Second, // remember "no such user" (cache.ErrNotFound)
//	})
//	defer users.Close() // stops background refreshes
//
//	u, err := users.GetOrLoad(ctx, id, db.LoadUser) // one query per id, however many callers
//
// For values shared by several replicas, cache/rediscache puts a Redis tier
// behind a Cache and invalidates the other replicas' copies on writes.
//
// # Bound and eviction
//
// A Cache never holds more than Config.MaxEntries entries (10,000 by
// default), or, with Config.Cost, never more than Config.MaxCost in total
// cost. Expired, negative and stale-kept entries count too, and there is no
// background sweeper: the bound is what limits memory, whatever the keys.
// A flood of distinct keys therefore cannot grow the cache, and, thanks to
// the eviction policy, cannot flush its popular entries either.
//
// Eviction is S3-FIFO (Yang et al., "FIFO queues are all you need for
// cache eviction", SOSP 2023): a small FIFO queue takes newcomers, a main
// FIFO keeps entries that were read again, and a ghost set of recently
// evicted hashes lets returning keys skip the small queue. We chose it over
// W-TinyLFU for two reasons. Its hit ratio matches or beats W-TinyLFU's on
// skewed (Zipf) traffic and it resists scans, because one-hit keys leave
// from the small queue without disturbing main. And a read only bumps a
// 2-bit counter in the entry, with no shared frequency sketch or read
// buffer to update, so reads need no lock and no buffering; all queue work
// happens on writes, under a per-shard lock. The measured hit ratios,
// side by side with otter, ristretto and golang-lru, are in BENCHMARKS.md.
//
// The cache is split into up to 64 shards (about four per CPU, fewer for
// small caches), each with its own lock, queues and share of the bound.
// Get searches a shard's hash table without any lock: entries are immutable
// once published and chained through atomic pointers, which writers relink
// in an order that keeps every chain walkable (shard.go has the details).
//
// # Expiry
//
// Entries are fresh for Config.TTL after they are stored, minus a random
// jitter of up to Config.Jitter (TTL/10 by default), so that keys stored
// together do not expire, and reload, together. Time comes from
// Config.Clock (time.Now by default). An expired entry is not served by
// Get; GetOrLoad may still serve it for Config.StaleWhileRevalidate or
// Config.StaleIfError past its expiry (see [Cache.GetOrLoad]). Entries past
// all of those windows are evicted first when their shard needs room.
//
// # Loads and goroutines
//
// [Cache.GetOrLoad] runs each load on a goroutine of its own, one per key at
// a time, detached from the caller's cancellation and bounded by
// Config.LoadTimeout; callers may stop waiting on their own context. Loads
// may outlive the calls that started them (that is the point of
// stale-while-revalidate and of detached loads): [Cache.Close] cancels the
// loads still running and waits for them. A Cache that only ever served
// Get, Set and Delete starts no goroutine. Errors and panics of loads are
// never cached; a not-found result ([ErrNotFound]) is, for
// Config.NegativeTTL.
//
// # Metrics
//
// Through the OpenTelemetry metric API, with scope
// github.com/chassis-go/chassis/cache and the attribute chassis.cache.name
// on every series:
//
//   - chassis.cache.hits ({hit}, counter): lookups answered from the cache;
//     chassis.cache.state = fresh or stale.
//   - chassis.cache.misses ({miss}, counter): lookups that found no usable
//     entry.
//   - chassis.cache.loads ({load}, counter): loads started by GetOrLoad,
//     background refreshes included.
//   - chassis.cache.load.errors ({error}, counter): failed loads; error.type
//     = error, timeout or panic. Not-found results are not errors here.
//   - chassis.cache.evictions ({entry}, counter): chassis.cache.reason =
//     size (made room) or expired (dead entries removed).
//   - chassis.cache.entries ({entry}, gauge): entries held now.
//
// Hits, misses, evictions and entries are counted in the cache's own
// striped counters and reported when the metrics are collected, so a Get
// costs one atomic add, not a call into the SDK. The registration holds a
// reference to the cache until Close: create caches once, at startup.
package cache
