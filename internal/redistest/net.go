package redistest

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Proxy forwards TCP connections to a server until Cut, which simulates a
// network failure between a client and its Redis: the connections through
// it close and new ones are refused.
type Proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	cutOff bool
	conns  []net.Conn
}

// NewProxy starts a proxy to target on a free loopback port; it is cut at
// cleanup.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := newProxy(target)
	if err != nil {
		t.Fatalf("redistest.NewProxy: %v", err)
	}
	t.Cleanup(p.Cut)
	return p
}

func newProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	return p, nil
}

// Addr is the address clients dial instead of the target's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) serve() {
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
func (p *Proxy) track(conns ...net.Conn) bool {
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

// Cut closes the listener and every connection, and waits for the proxy's
// goroutines. It is idempotent.
func (p *Proxy) Cut() {
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

// CutClient returns a new client of b (see [Backend.NewClient]) whose every
// connection runs through a [Proxy] of its own, one per server it dials
// (each node a cluster client learns of included), and a function that cuts
// them all at once: open connections close and new dials are refused, as if
// the network between this client and Redis failed. Other clients of b are
// not affected. The proxies are cut at cleanup, after the client is closed.
func (b Backend) CutClient(t testing.TB, edit ...func(*redis.UniversalOptions)) (redis.UniversalClient, func()) {
	t.Helper()
	n := &cutNet{proxies: map[string]*Proxy{}}
	t.Cleanup(waitDialRetries)
	t.Cleanup(n.cut)
	c := b.NewClient(t, append(edit, func(o *redis.UniversalOptions) { o.Dialer = n.dial })...)
	return c, n.cut
}

// cutNet dials each address through a proxy of its own until cut.
type cutNet struct {
	mu      sync.Mutex
	isCut   bool
	proxies map[string]*Proxy
}

func (n *cutNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	if n.isCut {
		n.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	p := n.proxies[addr]
	if p == nil {
		var err error
		if p, err = newProxy(addr); err != nil {
			n.mu.Unlock()
			return nil, err
		}
		n.proxies[addr] = p
	}
	n.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, network, p.Addr())
}

// waitDialRetries waits (up to 3s) until no go-redis pool of a closed client
// still retries dials in the background. A pool that failed PoolSize dials
// in a row retries on a goroutine of its own, once a second, until a dial
// succeeds or the pool is closed: after a cut or a stopped server, that
// goroutine may outlive the client's Close by a second, longer than goleak
// waits at the end of the package's tests.
func waitDialRetries() {
	buf := make([]byte, 1<<20)
	_ = Poll(3*time.Second, func() (bool, error) {
		n := runtime.Stack(buf, true)
		return !bytes.Contains(buf[:n], []byte("pool.(*ConnPool).tryDial")), nil
	})
}

func (n *cutNet) cut() {
	n.mu.Lock()
	n.isCut = true
	proxies := n.proxies
	n.proxies = map[string]*Proxy{}
	n.mu.Unlock()
	for _, p := range proxies {
		p.Cut()
	}
}
