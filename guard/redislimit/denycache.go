package redislimit

import (
	"sync"
)

// DenyCacheSize is the most keys the deny cache holds (per Limiter). Each
// entry costs about 60 bytes plus its Redis key (at most the prefix plus 259
// bytes, see [Limiter.RedisKey]), so a full cache of short keys takes under
// 1 MB.
const DenyCacheSize = 10_000

// denySamples is how many entries a full cache looks at to make room.
const denySamples = 8

// denyCache remembers keys that Redis denied, until their RetryAfter passes,
// on the limiter's local timeline (nanoseconds). It holds at most max
// entries; a full cache drops expired entries among a few it samples, or
// else the sampled entry that expires first.
type denyCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]denyEntry
}

type denyEntry struct {
	at    int64 // when Redis denied it; an earlier now is a clock step back: ignore the entry
	until int64 // at + RetryAfter: Redis may admit the key from then on
	reset int64 // at + ResetAfter
}

func newDenyCache(n int) *denyCache {
	return &denyCache{max: n, entries: make(map[string]denyEntry)}
}

// get returns the cached denial for key if it still holds at now, as the
// remaining RetryAfter and ResetAfter in nanoseconds.
func (c *denyCache) get(key string, now int64) (retry, reset int64, ok bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	if ok && (now >= e.until || now < e.at) {
		delete(c.entries, key)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return 0, 0, false
	}
	return e.until - now, e.reset - now, true
}

// put records that key was denied at now for retry (and resets after
// reset) nanoseconds.
func (c *denyCache) put(key string, now, retry, reset int64) {
	e := denyEntry{at: now, until: now + retry, reset: now + reset}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		c.makeRoom(now)
	}
	c.entries[key] = e
}

// makeRoom deletes expired entries among the first few of a map iteration
// (which starts at a random place), or else the one of them that expires
// first. c.mu is held.
func (c *denyCache) makeRoom(now int64) {
	var victim string
	var soonest int64
	n, freed := 0, false
	for k, e := range c.entries {
		if now >= e.until || now < e.at {
			delete(c.entries, k)
			freed = true
		} else if n == 0 || e.until < soonest {
			victim, soonest = k, e.until
		}
		if n++; n == denySamples {
			break
		}
	}
	if !freed {
		delete(c.entries, victim)
	}
}
