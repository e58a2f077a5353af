package redislock_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// guard bounds the waits of a test so that a broken locker fails it
// instead of hanging it. It is never what a test expects to pass.
const guard = 10 * time.Second

// backend is one Redis deployment the tests run against.
type backend struct {
	mr     *miniredis.Miniredis // nil for a real Redis
	addrs  []string             // more than one: a Redis Cluster
	prefix string               // unique per test
	ttl    time.Duration        // the TTL the test's lockers use
}

// client returns a new client of the backend, closed at cleanup.
func (b *backend) client(t *testing.T) redis.UniversalClient {
	var c redis.UniversalClient
	if len(b.addrs) > 1 {
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: b.addrs, ContextTimeoutEnabled: true})
	} else {
		c = redis.NewClient(&redis.Options{Addr: b.addrs[0], ContextTimeoutEnabled: true})
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// expire lets key's TTL pass: at once on miniredis, on a real Redis by
// waiting until the server has expired it.
func (b *backend) expire(t *testing.T, c redis.UniversalClient, key string) {
	t.Helper()
	if b.mr != nil {
		b.mr.FastForward(b.ttl)
		return
	}
	deadline := time.Now().Add(guard)
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	for range tk.C {
		n, err := c.Exists(context.Background(), key).Result()
		if err != nil {
			t.Fatalf("EXISTS %s: %v", key, err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not expire", key)
		}
	}
}

// forEachBackend runs f against miniredis and against the real Redis at
// CHASSIS_REDIS_ADDR and the real Redis Cluster at
// CHASSIS_REDIS_CLUSTER_ADDRS (comma-separated seeds), each with a key
// prefix unique to the test. A real backend whose variable is unset is
// skipped, except under CI=true, where that fails the test. The TTLs are
// long enough that a call (bounded by TTL/3) does not time out on a loaded
// CI machine under -race; miniredis's clock moves only when told, so its
// expiry costs no waiting.
func forEachBackend(t *testing.T, f func(t *testing.T, b *backend)) {
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		f(t, &backend{mr: mr, addrs: []string{mr.Addr()}, prefix: uniquePrefix(), ttl: 3 * time.Second})
	})
	for _, real := range []struct{ name, env string }{{"redis", "CHASSIS_REDIS_ADDR"}, {"cluster", "CHASSIS_REDIS_CLUSTER_ADDRS"}} {
		t.Run(real.name, func(t *testing.T) {
			v := os.Getenv(real.env)
			if v == "" {
				if os.Getenv("CI") == "true" {
					t.Fatalf("%s is not set; CI must run these tests against the real server", real.env)
				}
				t.Skipf("%s is not set; the miniredis subtest ran instead", real.env)
			}
			b := &backend{addrs: strings.Split(v, ","), prefix: uniquePrefix(), ttl: 2 * time.Second}
			c := b.client(t)
			t.Cleanup(func() { deleteKeys(t, c, b.prefix) })
			f(t, b)
		})
	}
}

// deleteKeys deletes the keys under prefix, on every master of a cluster.
func deleteKeys(t *testing.T, c redis.UniversalClient, prefix string) {
	ctx := context.Background()
	del := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleanup: SCAN %s*: %v", prefix, err)
		}
		return nil
	}
	switch c := c.(type) {
	case *redis.ClusterClient:
		_ = c.ForEachMaster(ctx, del)
	case *redis.Client:
		_ = del(ctx, c)
	}
}

func uniquePrefix() string { return fmt.Sprintf("chassis-test:tick:%016x:", rand.Uint64()) }

// proxy forwards TCP connections to a server until cut, which simulates a
// network failure between a client and its Redis.
type proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	cutOff bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = down.Close()
			continue
		}
		if !p.track(down, up) {
			return
		}
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
		}
		p.wg.Go(func() { pipe(up, down) })
		p.wg.Go(func() { pipe(down, up) })
	}
}

// track records conns to close at the cut; after the cut it closes them
// and reports false.
func (p *proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cutOff {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	p.conns = append(p.conns, conns...)
	return true
}

// cut closes the listener and every connection, and waits for the proxy's
// goroutines. It is idempotent.
func (p *proxy) cut() {
	p.mu.Lock()
	p.cutOff = true
	_ = p.ln.Close()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
