// Package redisstore provides an [idempotency.Store] on Redis, so that
// replicas of a service share idempotency records: a key claimed on one
// replica is seen as in flight, or replayed, on every other.
//
//	store := redisstore.New(rdb) // rdb: a redis.UniversalClient
//	idem := idempotency.Middleware(idempotency.Config{Store: store, Key: guard.RemoteIP()})
//
// Each record is one Redis string under prefix + "{" + key + "}" (a hash tag,
// so any future companion key lands in the same Redis Cluster slot). A claim
// is SET NX PX with the lock TTL, holding the claim's token and the request
// fingerprint; completion and release are Lua scripts that act only if that
// same claim still holds the key, so a handler that outlived its lock cannot
// overwrite the record of the request that took over; a completed record is
// rewritten with the retention as its TTL. Redis expiry is the only clean-up:
// there is no background work and no goroutine.
//
// Errors (Redis unreachable, timeouts from the client's own settings) are
// returned to the middleware, which fails closed or open as configured.
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/idempotency"
	"github.com/chassis-go/chassis/internal/rediskey"
)

// DefaultPrefix is the key prefix of a Store built without WithPrefix.
const DefaultPrefix = "chassis:idempotency:"

// Option configures [New].
type Option func(*Store)

// WithPrefix sets the prefix of every Redis key the Store writes, so several
// services (or tests) can share one Redis. An empty prefix, like no option,
// means DefaultPrefix. [New] panics if prefix contains '{' or '}', which
// are reserved for the hash tag.
func WithPrefix(prefix string) Option {
	return func(s *Store) {
		if prefix != "" {
			s.prefix = prefix
		}
	}
}

// Store is an [idempotency.Store] on Redis. Build one with [New]; the zero
// Store is not usable. It is safe for concurrent use and holds no state of
// its own beyond the client.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ idempotency.Store = (*Store)(nil)

// New returns a Store that keeps records in rdb (a client, a cluster client
// or a failover client). nil options are ignored. Panics if rdb is nil.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	if rdb == nil {
		panic("redisstore.New: rdb is nil; pass a redis.UniversalClient")
	}
	s := &Store{rdb: rdb, prefix: DefaultPrefix}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	if err := rediskey.CheckPrefix(s.prefix); err != nil {
		panic("redisstore.New: " + err.Error())
	}
	return s
}

// A value is "L:<token>:<fingerprint>" while in flight, "D:<json record>"
// once done. Tokens (crypto/rand.Text) and fingerprints (hex) hold no colon.

// acquireScript: KEYS[1] record; ARGV in-flight value, lock TTL (ms).
// Returns nil when claimed, else the current value.
var acquireScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return false
end
return redis.call('GET', KEYS[1])
`)

// completeScript: KEYS[1] record; ARGV in-flight value of the claim, done
// value, retention (ms). Returns 1 if stored, 0 if the claim was lost.
var completeScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
	return 1
end
return 0
`)

type doneRecord struct {
	Fingerprint string              `json:"f"`
	Status      int                 `json:"s"`
	Header      map[string][]string `json:"h,omitempty"`
	Body        []byte              `json:"b,omitempty"`
}

func (s *Store) key(k string) string { return s.prefix + "{" + k + "}" }

func inflight(token, fingerprint string) string { return "L:" + token + ":" + fingerprint }

func ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// Acquire implements [idempotency.Store] with one script call (SET NX PX,
// else GET), bounded by ctx and the client's timeouts.
func (s *Store) Acquire(ctx context.Context, key, token, fingerprint string, lockTTL time.Duration) (idempotency.Record, bool, error) {
	v, err := acquireScript.Run(ctx, s.rdb, []string{s.key(key)}, inflight(token, fingerprint), ms(lockTTL)).Text()
	if errors.Is(err, redis.Nil) {
		return idempotency.Record{}, true, nil
	}
	if err != nil {
		return idempotency.Record{}, false, fmt.Errorf("redisstore: acquire: %w", err)
	}
	rec, err := decode(v)
	return rec, false, err
}

// Complete implements [idempotency.Store].
func (s *Store) Complete(ctx context.Context, key, token string, rec idempotency.Record, retention time.Duration) error {
	b, err := json.Marshal(doneRecord{Fingerprint: rec.Fingerprint, Status: rec.Status, Header: rec.Header, Body: rec.Body})
	if err != nil {
		return fmt.Errorf("redisstore: complete: %w", err)
	}
	n, err := completeScript.Run(ctx, s.rdb, []string{s.key(key)},
		inflight(token, rec.Fingerprint), "D:"+string(b), ms(retention)).Int()
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: complete: %w", err)
	case n == 0:
		return idempotency.ErrLockLost
	}
	return nil
}

// Release implements [idempotency.Store]: one script call that deletes the
// record only if it is this token's in-flight claim.
func (s *Store) Release(ctx context.Context, key, token string) error {
	if err := releaseByPrefixScript.Run(ctx, s.rdb, []string{s.key(key)}, "L:"+token+":").Err(); err != nil {
		return fmt.Errorf("redisstore: release: %w", err)
	}
	return nil
}

// releaseByPrefixScript: KEYS[1] record; ARGV "L:<token>:". Deletes the
// record if it is that claim's in-flight record.
var releaseByPrefixScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then
	redis.call('DEL', KEYS[1])
	return 1
end
return 0
`)

func decode(v string) (idempotency.Record, error) {
	switch {
	case strings.HasPrefix(v, "L:"):
		_, fp, ok := strings.Cut(v[2:], ":")
		if !ok {
			return idempotency.Record{}, errors.New("redisstore: malformed in-flight record")
		}
		return idempotency.Record{Fingerprint: fp}, nil
	case strings.HasPrefix(v, "D:"):
		var d doneRecord
		if err := json.Unmarshal([]byte(v[2:]), &d); err != nil {
			return idempotency.Record{}, fmt.Errorf("redisstore: malformed record: %w", err)
		}
		return idempotency.Record{Fingerprint: d.Fingerprint, Done: true, Status: d.Status, Header: d.Header, Body: d.Body}, nil
	}
	return idempotency.Record{}, errors.New("redisstore: unknown record")
}
