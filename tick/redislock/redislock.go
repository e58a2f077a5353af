package redislock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/tick"
)

// Defaults of the options.
const (
	// DefaultPrefix starts every key the Locker writes unless [WithPrefix]
	// says otherwise.
	DefaultPrefix = "chassis:tick:"
	// DefaultTTL is the lease's time to live unless [WithTTL] says
	// otherwise.
	DefaultTTL = 30 * time.Second
)

// minTTL is the shortest TTL WithTTL accepts: the renewal period and the
// timeout of each call are a third of it.
const minTTL = 30 * time.Millisecond

// Option configures a [Locker]; pass options to [New]. A nil Option is
// ignored.
type Option func(*config)

type config struct {
	prefix string
	ttl    time.Duration
}

// WithPrefix sets the prefix of the Locker's keys; the default is
// [DefaultPrefix]. Services that share a Redis and use the same job names
// need different prefixes. The empty prefix is allowed. [New] panics if p
// contains '{' or '}', which would break the keys' Redis Cluster hash tag.
func WithPrefix(p string) Option { return func(c *config) { c.prefix = p } }

// WithTTL sets how long a lease lives in Redis without renewal; the default
// is [DefaultTTL], 30s. The holder renews it every ttl/3 and bounds each
// Redis call to ttl/3, so a holder that cannot renew gives the lease up
// before it expires. A replica that dies mid-run blocks the job for at most
// ttl. Zero means the default. [New] panics if ttl is negative or below 30ms.
func WithTTL(ttl time.Duration) Option { return func(c *config) { c.ttl = ttl } }

// Locker grants [tick.Lease]s kept in Redis. Build one with [New]; the zero
// Locker is not usable. It is safe for concurrent use, and one Locker may
// serve any number of jobs. It needs no closing; closing the Redis client is
// the caller's business, and makes every lease held through it lost.
type Locker struct {
	client  redis.UniversalClient
	prefix  string
	ttl     time.Duration
	ttlMS   int64
	acquire *redis.Script
	renew   *redis.Script
	release *redis.Script
}

// acquireScript takes the lease if it is free and draws the next fencing
// token from the counter: both keys share one hash tag, so they live in one
// Cluster slot and the script is atomic.
//
// KEYS[1] lease, KEYS[2] fencing counter; ARGV[1] token, ARGV[2] TTL in ms.
// Returns the fencing token, or 0 when the lease is held.
const acquireScript = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0`

// renewScript extends the lease only if the caller still owns it.
// Returns 1 if renewed, 0 if the lease is gone or someone else's.
const renewScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`

// releaseScript deletes the lease only if the caller still owns it (a
// compare-and-delete: a plain DEL could remove the next holder's lease).
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`

// New returns a Locker that keeps leases in Redis through client (a
// *redis.Client, *redis.ClusterClient, *redis.Ring or failover client).
// Build the client with ContextTimeoutEnabled: true, so that the timeout of
// each call (a third of the TTL) also bounds its socket reads and writes;
// without it a hung Redis is noticed only after the client's ReadTimeout.
//
// Panics if client is nil or an option is out of range, with a message
// such as "redislock.New: TTL is 10ms; ...".
func New(client redis.UniversalClient, opts ...Option) *Locker {
	if isNil(client) {
		panic("redislock.New: client is nil; pass a *redis.Client or another redis.UniversalClient")
	}
	c := config{prefix: DefaultPrefix}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.ttl == 0 {
		c.ttl = DefaultTTL
	}
	if c.ttl < minTTL {
		panic(fmt.Sprintf("redislock.New: TTL is %v; pass at least %v to WithTTL, or omit it for %v", c.ttl, minTTL, DefaultTTL))
	}
	if strings.ContainsAny(c.prefix, "{}") {
		panic(fmt.Sprintf("redislock.New: prefix %q contains a brace; remove it (the job name is the key's hash tag)", c.prefix))
	}
	return &Locker{
		client:  client,
		prefix:  c.prefix,
		ttl:     c.ttl,
		ttlMS:   c.ttl.Milliseconds(),
		acquire: redis.NewScript(acquireScript),
		renew:   redis.NewScript(renewScript),
		release: redis.NewScript(releaseScript),
	}
}

// isNil reports whether client is nil, or a nil pointer of one of
// go-redis's client types.
func isNil(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case nil:
		return true
	case *redis.Client:
		return c == nil
	case *redis.ClusterClient:
		return c == nil
	case *redis.Ring:
		return c == nil
	}
	return false
}

// Keys returns the Redis keys of the lease of the job called name: the
// lease itself, prefix{name}:lease, holding a random token of its holder
// with the TTL, and the fencing counter, prefix{name}:fence, a persistent
// integer incremented by each acquisition. The braces make name the keys'
// Redis Cluster hash tag, so both are in one slot.
func (l *Locker) Keys(name string) (lease, fence string) {
	base := l.prefix + "{" + name + "}"
	return base + ":lease", base + ":fence"
}

// Acquire takes the lease of the job called name if no one holds it, and
// returns it with the next fencing token; it returns an error matching
// [tick.ErrLocked] if someone does, and another error if Redis does not
// answer within a third of the TTL or ctx ends first.
//
// A held lease is renewed by a goroutine of its own every TTL/3 until
// Release. If a renewal fails or finds the lease gone (Redis unreachable,
// the client closed, the key expired or deleted), the lease's Lost channel
// is closed at once and no further renewal is tried. Release stops the
// goroutine and deletes the key if it is still this lease's.
//
// Acquire returns an error for a name containing '{' or '}'.
func (l *Locker) Acquire(ctx context.Context, name string) (tick.Lease, error) {
	if strings.ContainsAny(name, "{}") {
		return nil, fmt.Errorf("redislock: job name %q contains a brace; remove it", name)
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // never fails (crypto/rand)
	token := hex.EncodeToString(raw[:])
	lease, fence := l.Keys(name)

	cctx, cancel := context.WithTimeout(ctx, l.ttl/3)
	n, err := l.acquire.Run(cctx, l.client, []string{lease, fence}, token, l.ttlMS).Int64()
	cancel()
	if err != nil {
		return nil, fmt.Errorf("redislock: acquire %s: %w", lease, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("redislock: %s: %w", lease, tick.ErrLocked)
	}
	ls := &redisLease{
		l:     l,
		key:   lease,
		token: token,
		fence: n,
		lost:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	// Renewals run on their own context: the lease outlives Acquire's ctx.
	ls.ctx, ls.stop = context.WithCancel(context.WithoutCancel(ctx))
	go ls.keepAlive()
	return ls, nil
}

// redisLease is one held lease.
type redisLease struct {
	l     *Locker
	key   string
	token string
	fence int64

	lost     chan struct{}
	lostOnce sync.Once
	ctx      context.Context    // of the renewals; cancelled by Release
	stop     context.CancelFunc // cancels ctx
	done     chan struct{}      // closed when keepAlive returns
}

func (ls *redisLease) Token() int64          { return ls.fence }
func (ls *redisLease) Lost() <-chan struct{} { return ls.lost }

// keepAlive renews the lease every TTL/3 until Release or the first
// failure.
func (ls *redisLease) keepAlive() {
	defer close(ls.done)
	t := time.NewTicker(ls.l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ls.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(ls.ctx, ls.l.ttl/3)
		n, err := ls.l.renew.Run(ctx, ls.l.client, []string{ls.key}, ls.token, ls.l.ttlMS).Int64()
		cancel()
		if ls.ctx.Err() != nil {
			return // released meanwhile
		}
		if err != nil || n == 0 {
			ls.lostOnce.Do(func() { close(ls.lost) })
			return
		}
	}
}

// Release stops the renewals and deletes the lease if it is still this
// one's (a lease that expired and was taken by another holder is left
// alone). It returns an error if Redis could not be asked; the lease then
// expires after its TTL. It is safe to call more than once.
func (ls *redisLease) Release(ctx context.Context) error {
	ls.stop()
	<-ls.done
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redislock: release %s: %w", ls.key, err)
	}
	cctx, cancel := context.WithTimeout(ctx, ls.l.ttl/3)
	defer cancel()
	err := ls.l.release.Run(cctx, ls.l.client, []string{ls.key}, ls.token).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redislock: release %s: %w", ls.key, err)
	}
	return nil
}
