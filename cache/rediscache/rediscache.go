package rediscache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"

	"github.com/chassis-go/chassis/cache"
	"github.com/chassis-go/chassis/internal/logthrottle"
)

// DefaultTTL is how long values live in Redis when Config.TTL is zero.
const DefaultTTL = time.Hour

// DefaultTimeout bounds each Redis call when Config.Timeout is zero.
const DefaultTimeout = 100 * time.Millisecond

// readPause is how long lookups skip Redis after a lookup or fill failed,
// so that an outage (a blackholed Redis costs a full Timeout per call) adds
// latency to one local miss per second, not to every one.
const readPause = time.Second

// Config configures a [Cache]. The zero Config is usable: a local tier with
// cache's defaults, values kept in Redis for an hour as JSON, under keys
// prefixed "chassis:cache:default:". New copies it.
type Config[V any] struct {
	// Local configures the in-process tier (see [cache.Config]). Keep its
	// TTL short, seconds to minutes: invalidation messages are best effort
	// (see the package doc), and the local TTL bounds how long a replica
	// that missed one serves the old value. Local.Clock also times the
	// one-second pause of Redis lookups after a failure.
	Local cache.Config[string, V]

	// Prefix starts every Redis key and the invalidation channel's name.
	// Replicas that share values must use the same Prefix; caches of
	// different values must not. Empty means "chassis:cache:" + Local.Name
	// + ":" (with Local.Name "default" if empty).
	Prefix string

	// TTL is how long a value lives in Redis after it is stored. Zero means
	// DefaultTTL (1 hour); negative panics. Redis keeps no jitter: the
	// local tier's TTL (with its jitter) decides when a replica asks Redis
	// again.
	TTL time.Duration

	// Codec encodes values for Redis. Nil means JSON[V].
	Codec Codec[V]

	// Timeout bounds each Redis call (one round trip). Zero means
	// DefaultTimeout (100ms); negative panics. A call that times out counts
	// as a Redis failure: the request goes on without Redis.
	Timeout time.Duration

	// Logger receives Redis failures, at most one record per second (with a
	// "suppressed" count). Nil means slog.Default() at the time of logging.
	// It is also the local tier's Logger when Local.Logger is nil.
	Logger *slog.Logger

	// MeterProvider receives the chassis.rediscache.* metrics, and the
	// local tier's when Local.MeterProvider is nil. Nil means
	// otel.GetMeterProvider() when New is called.
	MeterProvider metric.MeterProvider
}

// Cache is a two-tier cache: an in-process [cache.Cache] in front of Redis,
// shared by every replica that uses the same Redis and Prefix. Build one
// with [New]; the zero Cache is not usable. It is safe for concurrent use.
//
// New starts one goroutine that listens for other replicas' invalidations;
// [Cache.Close] stops it and the local tier's background loads.
type Cache[V any] struct {
	local   *cache.Cache[string, V]
	client  redis.UniversalClient
	prefix  string
	channel string
	origin  string // identifies this Cache in its own invalidation messages
	ttl     time.Duration
	tomb    time.Duration // how long a Delete's tombstone blocks fills
	timeout time.Duration
	codec   Codec[V]
	now     func() time.Time

	// pausedUntil is the clock's UnixNano until which lookups and fills
	// skip Redis after a failure (see readPause).
	pausedUntil atomic.Int64

	logger   *slog.Logger
	throttle logthrottle.Throttle
	metrics  *metrics

	ps        *redis.PubSub
	stop      context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	// onEvent, if set (by tests, before the listener starts), is called on
	// the listener goroutine after each subscription ("subscribe") and each
	// invalidation from another replica ("invalidate").
	onEvent func(kind string)
}

// New returns a Cache that keeps values in process memory and in Redis
// through client, and starts listening for invalidations from the other
// replicas. It does not wait for Redis: if Redis is unreachable, the Cache
// works on its local tier alone and subscribes when Redis comes back.
// Close the Cache when done; it does not close client.
//
// Panics if client is nil, if cfg.TTL or cfg.Timeout is negative, or if
// cfg.Local is invalid (see [cache.New]).
func New[V any](client redis.UniversalClient, cfg Config[V]) *Cache[V] {
	return newCache(client, cfg, nil)
}

func newCache[V any](client redis.UniversalClient, cfg Config[V], onEvent func(string)) *Cache[V] {
	if client == nil {
		panic("rediscache.New: client is nil; pass a *redis.Client, *redis.ClusterClient or other redis.UniversalClient")
	}
	if cfg.TTL < 0 {
		panic(fmt.Sprintf("rediscache.New: TTL must not be negative, got %v; use 0 for the default of %v", cfg.TTL, DefaultTTL))
	}
	if cfg.Timeout < 0 {
		panic(fmt.Sprintf("rediscache.New: Timeout must not be negative, got %v; use 0 for the default of %v", cfg.Timeout, DefaultTimeout))
	}
	name := cfg.Local.Name
	if name == "" {
		name = "default"
	}
	c := &Cache[V]{
		client:  client,
		prefix:  cfg.Prefix,
		ttl:     cfg.TTL,
		timeout: cfg.Timeout,
		codec:   cfg.Codec,
		now:     cfg.Local.Clock,
		logger:  cfg.Logger,
		onEvent: onEvent,
	}
	if c.prefix == "" {
		c.prefix = "chassis:cache:" + name + ":"
	}
	// The channel name cannot clash with a key: Redis keeps channels and
	// keys apart.
	c.channel = c.prefix + "invalidate"
	if c.ttl == 0 {
		c.ttl = DefaultTTL
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.codec == nil {
		c.codec = JSON[V]{}
	}
	if c.now == nil {
		c.now = time.Now
	}
	// A tombstone must outlive any load that started before the Delete,
	// so that the load's fill (SET NX) cannot bring the old value back.
	switch lt := cfg.Local.LoadTimeout; {
	case lt == 0:
		c.tomb = cache.DefaultLoadTimeout
	case lt < 0:
		c.tomb = c.ttl
	default:
		c.tomb = lt
	}
	c.tomb = min(c.tomb+time.Second, c.ttl)
	var id [8]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	c.origin = hex.EncodeToString(id[:])

	local := cfg.Local
	if local.Logger == nil {
		local.Logger = cfg.Logger
	}
	if local.MeterProvider == nil {
		local.MeterProvider = cfg.MeterProvider
	}
	c.local = cache.New(local)
	c.metrics = newMetrics(cfg.MeterProvider, name)

	c.stop, c.cancel = context.WithCancel(context.Background())
	c.ps = client.Subscribe(c.stop, c.channel)
	c.wg.Add(1)
	go c.listen()
	return c
}

// GetOrLoad returns key's value from the local tier, else from Redis, else
// from load, with the local tier's singleflight, timeout, negative caching
// and stale serving (see [cache.Cache.GetOrLoad]): the Redis lookup and the
// load run together as the local tier's load, so one replica sends at most
// one Redis GET and one load per key at a time. A value loaded by load is
// written to Redis only if the key is absent there (SET NX): it never
// overwrites a newer value from Set, nor a Delete's tombstone.
//
// Redis failures (down, slow, a value that does not decode) never fail the
// call: they are counted, logged, and the call goes on as if Redis had
// missed. After a failed lookup or fill, lookups skip Redis for a second
// (as a miss, without a fill), so that an outage slows at most one local
// miss per second by up to Timeout. Only load's error (or ctx's) is
// returned.
func (c *Cache[V]) GetOrLoad(ctx context.Context, key string, load func(context.Context, string) (V, error)) (V, error) {
	if load == nil {
		panic("rediscache.GetOrLoad: load is nil; pass the function that reads the value from its source")
	}
	return c.local.GetOrLoad(ctx, key, func(ctx context.Context, key string) (V, error) {
		v, found, fill := c.fetch(ctx, key)
		if found {
			return v, nil
		}
		v, err := load(ctx, key)
		if err == nil && fill {
			c.fill(ctx, key, v)
		}
		return v, err
	})
}

// Set stores v under key in the local tier, then in Redis, and tells the
// other replicas to drop their local copies. The Redis writes are detached
// from ctx's cancellation (a client that goes away must not leave other
// replicas stale) and bounded by Timeout.
//
// The local tier is updated whatever happens. A non-nil error means Redis
// was not updated or the other replicas were not told: they may serve their
// old value until their local TTL ends. It also reports a value the codec
// could not encode; Redis then drops its copy instead.
func (c *Cache[V]) Set(ctx context.Context, key string, v V) error {
	c.local.Set(key, v)
	stored, err := encode(c.codec, v)
	if err != nil {
		c.failed(ctx, "set", "encode", err)
		if derr := c.write(ctx, "set", key, []byte{formatTombstone}, c.tomb); derr != nil {
			return errors.Join(fmt.Errorf("rediscache: encoding the value: %w", err), derr)
		}
		return fmt.Errorf("rediscache: encoding the value: %w", err)
	}
	return c.write(ctx, "set", key, stored, c.ttl)
}

// Delete removes key from the local tier and from Redis, and tells the
// other replicas to drop their local copies. In Redis it leaves a tombstone
// for as long as a load may take (the local tier's LoadTimeout), so that a
// load that read the old value before the Delete cannot write it back. The
// Redis writes are detached from ctx's cancellation and bounded by Timeout.
// The error means what it means for Set.
func (c *Cache[V]) Delete(ctx context.Context, key string) error {
	c.local.Delete(key)
	return c.write(ctx, "delete", key, []byte{formatTombstone}, c.tomb)
}

// Len returns the number of entries in the local tier.
func (c *Cache[V]) Len() int { return c.local.Len() }

// Stats is a snapshot of a Cache's counters since [New], the same numbers
// the metrics report, for status pages and tests.
type Stats struct {
	Local                 cache.Stats `json:"local"`                  // the in-process tier
	RedisHits             int64       `json:"redis_hits"`             // local misses answered by Redis
	RedisMisses           int64       `json:"redis_misses"`           // local misses Redis did not have (tombstones included)
	RedisErrors           int64       `json:"redis_errors"`           // failed Redis calls of any kind
	InvalidationsSent     int64       `json:"invalidations_sent"`     // by Set and Delete
	InvalidationsReceived int64       `json:"invalidations_received"` // from other replicas
	Resyncs               int64       `json:"resyncs"`                // local tier cleared on (re)subscribing
}

// Stats returns the Cache's counters. It takes no lock.
func (c *Cache[V]) Stats() Stats {
	m := c.metrics
	return Stats{
		Local:                 c.local.Stats(),
		RedisHits:             m.redisHits.Load(),
		RedisMisses:           m.redisMisses.Load(),
		RedisErrors:           m.redisErrors.Load(),
		InvalidationsSent:     m.nSent.Load(),
		InvalidationsReceived: m.nReceived.Load(),
		Resyncs:               m.nResyncs.Load(),
	}
}

// Close stops listening for invalidations, cancels the local tier's
// background loads and waits for both. It does not close the Redis client.
// After Close the Cache still serves and stores values but no longer hears
// other replicas' invalidations. Close is idempotent and safe for
// concurrent use.
func (c *Cache[V]) Close() {
	c.closeOnce.Do(func() {
		c.cancel()
		_ = c.ps.Close()
		c.wg.Wait()
		c.local.Close()
	})
}

// write sets key's stored form in Redis and publishes an invalidation, in
// one round trip.
func (c *Cache[V]) write(ctx context.Context, op, key string, stored []byte, ttl time.Duration) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	_, err := c.client.Pipelined(rctx, func(p redis.Pipeliner) error {
		p.Set(rctx, c.prefix+key, stored, ttl)
		p.Publish(rctx, c.channel, c.origin+":"+key)
		return nil
	})
	if err != nil {
		c.failed(ctx, op, errorClass(err), err)
		return fmt.Errorf("rediscache: %s in Redis: %w", op, err)
	}
	c.metrics.nSent.Add(1)
	c.metrics.sent.Add(ctx, 1, c.metrics.attrs)
	return nil
}

// fetch looks key up in Redis. fill reports whether a loaded value may be
// written back: not after a tombstone, nor after a failure (Redis is
// probably down: no point in a second call).
func (c *Cache[V]) fetch(ctx context.Context, key string) (v V, found, fill bool) {
	if c.paused() {
		c.metrics.lookups.Add(ctx, 1, c.metrics.skipped)
		return v, false, false
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	stored, err := c.client.Get(rctx, c.prefix+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		c.metrics.redisMisses.Add(1)
		c.metrics.lookups.Add(ctx, 1, c.metrics.miss)
		return v, false, true
	case err != nil:
		c.metrics.lookups.Add(ctx, 1, c.metrics.lookupErr)
		c.failed(ctx, "get", errorClass(err), err)
		c.pause()
		return v, false, false
	}
	v, found, err = decode(c.codec, stored)
	switch {
	case err != nil:
		// A value this replica cannot read: load, but leave the value
		// alone (a newer version of the program may have written it); it
		// goes when its TTL ends or at the next Set or Delete.
		c.metrics.lookups.Add(ctx, 1, c.metrics.lookupErr)
		c.failed(ctx, "get", "decode", err)
		return v, false, false
	case !found:
		c.metrics.redisMisses.Add(1)
		c.metrics.lookups.Add(ctx, 1, c.metrics.miss)
		return v, false, false // a tombstone: a Delete is recent
	}
	c.metrics.redisHits.Add(1)
	c.metrics.lookups.Add(ctx, 1, c.metrics.hit)
	return v, true, false
}

// fill writes a loaded value to Redis unless the key exists there.
func (c *Cache[V]) fill(ctx context.Context, key string, v V) {
	stored, err := encode(c.codec, v)
	if err != nil {
		c.failed(ctx, "fill", "encode", err)
		return
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.client.SetArgs(rctx, c.prefix+key, stored, redis.SetArgs{Mode: "NX", TTL: c.ttl}).Err(); err != nil && !errors.Is(err, redis.Nil) {
		c.failed(ctx, "fill", errorClass(err), err)
		c.pause()
	}
}

// paused reports whether lookups skip Redis now.
func (c *Cache[V]) paused() bool { return c.now().UnixNano() < c.pausedUntil.Load() }

// pause makes lookups and fills skip Redis for readPause.
func (c *Cache[V]) pause() { c.pausedUntil.Store(c.now().Add(readPause).UnixNano()) }

// listen receives invalidations until Close. Every subscription, the first
// and each one after a reconnection, clears the local tier: invalidations
// published while this replica was not subscribed are lost, so any local
// entry may be stale.
func (c *Cache[V]) listen() {
	defer c.wg.Done()
	const minBackoff, maxBackoff = 50 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	for {
		msg, err := c.ps.Receive(c.stop)
		if err != nil {
			if c.stop.Err() != nil {
				return
			}
			c.failed(c.stop, "subscribe", errorClass(err), err)
			t := time.NewTimer(backoff)
			select {
			case <-c.stop.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				c.local.Clear()
				c.metrics.nResyncs.Add(1)
				c.metrics.resyncs.Add(c.stop, 1, c.metrics.attrs)
				c.event("subscribe")
			}
		case *redis.Message:
			if key, ok := parseInvalidation(m.Payload, c.origin); ok {
				c.local.Delete(key)
				c.metrics.nReceived.Add(1)
				c.metrics.received.Add(c.stop, 1, c.metrics.attrs)
				c.event("invalidate")
			}
		}
	}
}

func (c *Cache[V]) event(kind string) {
	if c.onEvent != nil {
		c.onEvent(kind)
	}
}

// parseInvalidation reads an invalidation message, "<origin>:<key>" with a
// 16-hex-digit origin. It reports false for this replica's own messages and
// for anything malformed: the channel is open to any Redis client.
func parseInvalidation(payload, self string) (key string, ok bool) {
	origin, key, found := strings.Cut(payload, ":")
	if !found || len(origin) != 16 || origin == self {
		return "", false
	}
	if _, err := hex.DecodeString(origin); err != nil {
		return "", false
	}
	return key, true
}

// failed counts a Redis failure and logs it, at most once per second.
func (c *Cache[V]) failed(ctx context.Context, op, class string, err error) {
	c.metrics.redisErrors.Add(1)
	c.metrics.errors.Add(ctx, 1, metric.WithAttributes(c.metrics.name,
		opKey.String(op), errorTypeKey.String(class)))
	suppressed, ok := c.throttle.Allow(time.Now())
	if !ok {
		return
	}
	l := c.logger
	if l == nil {
		l = slog.Default()
	}
	l.LogAttrs(ctx, slog.LevelWarn, "rediscache: Redis call failed; using the in-process tier alone",
		slog.String("cache", c.metrics.name.Value.AsString()), slog.String("op", op),
		slog.String("error.type", class), slog.String("error", err.Error()),
		slog.Int64("suppressed", suppressed))
}
