package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenDestination is matched by the error of a delivery whose
// destination address is refused by a [NewTransport] transport: loopback,
// private, link-local (cloud metadata services live there) or another
// special-purpose address not explicitly allowed. Nothing was sent. It is
// permanent: the Sender does not retry it.
var ErrForbiddenDestination = errors.New("webhook: destination address not allowed")

// TransportOption configures [NewTransport].
type TransportOption func(*dialPolicy)

// AllowLoopback lets a transport connect to loopback addresses
// (127.0.0.0/8, ::1), for tests against httptest servers and for local
// development.
func AllowLoopback() TransportOption { return func(p *dialPolicy) { p.loopback = true } }

// AllowPrivate lets a transport connect to private addresses (10.0.0.0/8,
// 172.16.0.0/12, 192.168.0.0/16, fc00::/7) and shared address space
// (100.64.0.0/10), for senders whose receivers are inside the network.
// Link-local addresses stay refused.
func AllowPrivate() TransportOption { return func(p *dialPolicy) { p.private = true } }

// AllowPrefixes lets a transport connect to addresses in prefixes,
// whatever else they are.
func AllowPrefixes(prefixes ...netip.Prefix) TransportOption {
	prefixes = append([]netip.Prefix(nil), prefixes...)
	return func(p *dialPolicy) { p.allow = append(p.allow, prefixes...) }
}

type dialPolicy struct {
	loopback, private bool
	allow             []netip.Prefix
}

// special lists special-purpose ranges (RFC 6890 and successors) that are
// never a public webhook receiver, beyond what netip's predicates name.
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: may reach any IPv4, private ones included
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("2002::/16"), // 6to4: embeds an IPv4
	netip.MustParsePrefix("2001::/32"), // Teredo
	netip.MustParsePrefix("100::/64"),  // discard
}

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// allowed reports whether p lets a connection to addr.
func (p *dialPolicy) allowed(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, pre := range p.allow {
		if pre.Contains(addr) {
			return true
		}
	}
	switch {
	case addr.IsLoopback():
		return p.loopback
	case addr.IsPrivate(), sharedSpace.Contains(addr):
		return p.private
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast(), addr.IsInterfaceLocalMulticast(),
		addr.IsMulticast(), addr.IsUnspecified(), !addr.IsValid():
		return false
	}
	for _, pre := range special {
		if pre.Contains(addr) {
			return false
		}
	}
	return addr != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// control is a net.Dialer Control function: it runs after name resolution,
// on the address actually being connected to, so a hostname that resolves
// to a public address when checked and a private one when used (DNS
// rebinding) is still refused.
func (p *dialPolicy) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: dial %s: %w", address, ErrForbiddenDestination)
	}
	if !p.allowed(ap.Addr()) {
		return fmt.Errorf("webhook: dial %s %s: %w", network, address, ErrForbiddenDestination)
	}
	return nil
}

// NewTransport returns an *http.Transport for sending webhooks to URLs that
// users supply: it refuses, at dial time, to connect to loopback, private,
// link-local and other special-purpose addresses unless opts allow them
// (an error matching [ErrForbiddenDestination]). Because the check runs on
// the resolved address of each connection, DNS rebinding and redirects
// cannot get around it. It uses no proxy (a proxy would make the dial
// address the proxy's) and otherwise has http.DefaultTransport's settings.
// Build the Sender's client with it:
//
//	c := call.New(call.WithTransport(webhook.NewTransport()), call.WithBreaker(call.BreakerPolicy{}))
//	s := webhook.NewSender(c)
//
// nil options are ignored.
func NewTransport(opts ...TransportOption) *http.Transport {
	p := &dialPolicy{}
	for _, o := range opts {
		if o != nil {
			o(p)
		}
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.control}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = d.DialContext
	return t
}
