package rediscache

import "github.com/redis/go-redis/v9"

// NewWithHook is New with a hook the listener goroutine calls after each
// subscription ("subscribe") and each invalidation from another replica
// ("invalidate"), so that tests can wait for them instead of sleeping.
func NewWithHook[V any](client redis.UniversalClient, cfg Config[V], onEvent func(kind string)) *Cache[V] {
	return newCache(client, cfg, onEvent)
}
