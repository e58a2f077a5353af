// Package redisreplay provides a [webhook.ReplayCache] on Redis, so that
// replicas receiving webhooks share the ids they accepted: a message
// replayed to another replica within the tolerance window is refused too.
//
//	cache := redisreplay.New(rdb) // rdb: a redis.UniversalClient
//	mux.Handle("POST /webhooks", v.Middleware(webhook.WithReplayCache(cache))(h))
//
// Each accepted id is one key, prefix + "{" + hex SHA-256 of the id + "}",
// set with SET NX PX until the message's timestamp leaves the tolerance
// window, so Redis expiry bounds the memory used. Redis errors are returned
// to the middleware, which answers 503 (never an unchecked message).
package redisreplay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/internal/rediskey"
	"github.com/chassis-go/chassis/webhook"
)

// DefaultPrefix is the key prefix of a Cache built without WithPrefix.
const DefaultPrefix = "chassis:webhook:seen:"

// Option configures [New].
type Option func(*Cache)

// WithPrefix sets the prefix of the keys the Cache writes. An empty prefix,
// like no option, means DefaultPrefix. [New] panics if prefix contains '{'
// or '}', which are reserved for the hash tag.
func WithPrefix(prefix string) Option {
	return func(c *Cache) {
		if prefix != "" {
			c.prefix = prefix
		}
	}
}

// WithClock sets the clock that turns an id's expiry time into a TTL. A nil
// now, like no option, means time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *Cache) {
		if now != nil {
			c.now = now
		}
	}
}

// Cache is a [webhook.ReplayCache] on Redis. Build one with [New]; the zero
// Cache is not usable. It is safe for concurrent use.
type Cache struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

var _ webhook.ReplayCache = (*Cache)(nil)

// New returns a Cache on rdb; nil options are ignored. Panics if rdb is nil.
func New(rdb redis.UniversalClient, opts ...Option) *Cache {
	if rdb == nil {
		panic("redisreplay.New: rdb is nil; pass a redis.UniversalClient")
	}
	c := &Cache{rdb: rdb, prefix: DefaultPrefix, now: time.Now}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if err := rediskey.CheckPrefix(c.prefix); err != nil {
		panic("redisreplay.New: " + err.Error())
	}
	return c
}

func (c *Cache) key(id string) string {
	sum := sha256.Sum256([]byte(id))
	return c.prefix + "{" + hex.EncodeToString(sum[:]) + "}"
}

// Claim implements [webhook.ReplayCache] with one SET NX PX, the TTL being
// the time left until expires (at least 1ms). It is bounded by ctx and the
// client's timeouts.
func (c *Cache) Claim(ctx context.Context, id string, expires time.Time) (bool, error) {
	ttl := max(expires.Sub(c.now()), time.Millisecond)
	err := c.rdb.SetArgs(ctx, c.key(id), "1", redis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redisreplay: claim: %w", err)
	}
	return true, nil
}

// Forget implements [webhook.ReplayCache] with a DEL.
func (c *Cache) Forget(ctx context.Context, id string) error {
	if err := c.rdb.Del(ctx, c.key(id)).Err(); err != nil {
		return fmt.Errorf("redisreplay: forget: %w", err)
	}
	return nil
}
