package guard

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// KeyFunc derives the key a request is limited or filtered by, such as the
// client's IP address. An error means the request has no usable key.
type KeyFunc func(*http.Request) (string, error)

// ErrNoClientIP is returned (wrapped) by the key functions of [RemoteIP] and
// [ClientIP] when the request's RemoteAddr is not an IP address, as happens
// behind a Unix socket listener.
var ErrNoClientIP = errors.New("guard: no client ip")

// ErrNoKey is returned (wrapped) by the key function of [Header] when the
// header is missing, empty or too long.
var ErrNoKey = errors.New("guard: no key in request")

// maxHeaderKey is the longest header value [Header] accepts as a key, so that
// a limiter's memory stays bounded by MaxKeys times a known size.
const maxHeaderKey = 512

// maxForwardedHops bounds how many X-Forwarded-For entries ClientIP examines,
// so that a long header costs bounded work.
const maxForwardedHops = 64

// RemoteIP returns a KeyFunc that keys a request by the IP address of its
// direct peer (Request.RemoteAddr) without the port, so 1.2.3.4:1111 and
// 1.2.3.4:2222 are one key. Addresses are normalized: an IPv4-mapped IPv6
// address (::ffff:1.2.3.4) becomes its IPv4 form, an IPv6 zone (%eth0) is
// dropped and IPv6 is written in its canonical RFC 5952 form. The key is
// always a string that [netip.ParseAddr] accepts.
//
// Behind a reverse proxy every request has the proxy's address: use
// [ClientIP] there. Wrap the result with [IPv6Prefix] to count a whole IPv6
// subnet as one client. If RemoteAddr is not an IP address, the KeyFunc
// returns an error wrapping [ErrNoClientIP]. An IPv4 key costs no allocation.
func RemoteIP() KeyFunc {
	return func(r *http.Request) (string, error) {
		if key, ok := canonicalIPv4Host(r.RemoteAddr); ok {
			return key, nil
		}
		addr, host, ok := parseRemoteAddr(r.RemoteAddr)
		if !ok {
			return "", fmt.Errorf("guard: remote address is not an ip: %w", ErrNoClientIP)
		}
		return addrKey(addr, host), nil
	}
}

// ClientIP returns a KeyFunc that keys a request by the IP address of the
// client that reached the first of your trusted proxies, read from
// X-Forwarded-For, falling back to the direct peer as [RemoteIP] does.
//
// The header is honoured only when the direct peer is inside one of
// trustedProxies: a request straight from a client cannot pick its own key.
// Entries are then read right to left (the order proxies append them; several
// X-Forwarded-For lines count as one list, in order), skipping entries inside
// trustedProxies, and the first address outside them is the key. Blank and
// unparseable entries are skipped; "ip:port" and "[ipv6]:port" entries are
// accepted. If every entry is trusted, or after 64 entries without an
// untrusted address, the key is the direct peer. So an attacker who writes
// "X-Forwarded-For: 6.6.6.6" gets keyed by the address your proxy appends
// after it, not by 6.6.6.6. The header is scanned from the end without
// splitting it, so a huge header costs no allocation and bounded time.
// Addresses are normalized as in RemoteIP, and prefixes given as
// IPv4-mapped IPv6 (::ffff:10.0.0.0/104) match the IPv4 addresses.
//
// With no trustedProxies, ClientIP is RemoteIP. The Forwarded header (RFC
// 7239) is not read. Errors wrap [ErrNoClientIP].
//
// Panics with the error of [CheckTrustedProxies] if trustedProxies is not
// a safe set; check configuration with it first to report the error
// instead.
func ClientIP(trustedProxies ...netip.Prefix) KeyFunc {
	if err := CheckTrustedProxies(trustedProxies...); err != nil {
		panic("guard.ClientIP: " + err.Error())
	}
	trusted := make([]netip.Prefix, 0, len(trustedProxies))
	for _, p := range trustedProxies {
		trusted = append(trusted, normalizePrefix(p))
	}
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) (string, error) {
		peer, host, ok := parseRemoteAddr(r.RemoteAddr)
		if !ok {
			return "", fmt.Errorf("guard: remote address is not an ip: %w", ErrNoClientIP)
		}
		if !isTrusted(peer) {
			return addrKey(peer, host), nil
		}
		lines := r.Header["X-Forwarded-For"]
		hops := 0
		for i := len(lines) - 1; i >= 0 && hops < maxForwardedHops; i-- {
			list := lines[i]
			for hops < maxForwardedHops {
				comma := strings.LastIndexByte(list, ',')
				entry := list[comma+1:]
				if a, src, ok := parseForwarded(entry); ok {
					hops++
					if !isTrusted(a) {
						return addrKey(a, src), nil
					}
				} else if strings.Trim(entry, " \t") != "" {
					hops++ // junk counts towards the bound, blanks are free
				}
				if comma < 0 {
					break
				}
				list = list[:comma]
			}
		}
		return addrKey(peer, host), nil
	}
}

// IPv6Prefix returns a KeyFunc that keys a request as key does, except that
// an IPv6 address is replaced by its /bits network, written as a prefix
// ("2001:db8:1:2::/64"). One IPv6 host usually owns a whole /64 (or /56 or
// /48), so per-address limits are easy to evade; IPv6Prefix(64, RemoteIP())
// counts the subnet as one client. IPv4 keys pass through unchanged. An error
// from key is returned as is, and a key that is not an IP address yields an
// error wrapping [ErrNoClientIP].
//
// Panics if bits is outside 1..128 or key is nil.
func IPv6Prefix(bits int, key KeyFunc) KeyFunc {
	if bits < 1 || bits > 128 {
		panic(fmt.Sprintf("guard.IPv6Prefix: bits must be in 1..128, got %d; use 64 for a typical subnet", bits))
	}
	if key == nil {
		panic("guard.IPv6Prefix: key is nil; pass guard.RemoteIP() or guard.ClientIP(...)")
	}
	return func(r *http.Request) (string, error) {
		k, err := key(r)
		if err != nil {
			return "", err
		}
		a, err := netip.ParseAddr(k)
		if err != nil {
			return "", fmt.Errorf("guard: key is not an ip: %w", ErrNoClientIP)
		}
		a = a.Unmap().WithZone("")
		if !a.Is6() {
			return a.String(), nil
		}
		return netip.PrefixFrom(a, bits).Masked().String(), nil
	}
}

// Header returns a KeyFunc that keys a request by the value of the named
// request header, such as an API key or the user id that an authenticating
// proxy sets.
//
// It is safe only when something you trust sets the header and strips any
// copy the client sent: otherwise every request can claim a fresh key and
// escape its limit. A missing or empty value, or one longer than 512 bytes,
// is an error wrapping [ErrNoKey] rather than a key (so clients without the
// header do not share one "" bucket, and a limiter's memory stays bounded).
// When the header appears on several lines, the first is used.
//
// Panics if name is empty.
func Header(name string) KeyFunc {
	if name == "" {
		panic("guard.Header: name is empty; pass the header that carries the key, such as \"X-User-Id\"")
	}
	name = http.CanonicalHeaderKey(name)
	return func(r *http.Request) (string, error) {
		var v string
		if vs := r.Header[name]; len(vs) > 0 {
			v = vs[0]
		}
		switch {
		case v == "":
			return "", fmt.Errorf("guard: header %s is missing or empty: %w", name, ErrNoKey)
		case len(v) > maxHeaderKey:
			return "", fmt.Errorf("guard: header %s is longer than %d bytes: %w", name, maxHeaderKey, ErrNoKey)
		}
		return v, nil
	}
}

// canonicalIPv4Host returns the IP of s when s is "a.b.c.d:port" with the
// address already in canonical form, which is what net/http's RemoteAddr is
// for nearly every IPv4 client. It is RemoteIP's fast path: netip's general
// parser and the canonical re-encoding cost about a fifth of a rate-limited
// request. Anything else (IPv6, leading zeros, a bad port) reports false and
// takes the general path, so both paths give the same key
// (FuzzCanonicalIPv4Host checks it).
func canonicalIPv4Host(s string) (string, bool) {
	colon := strings.LastIndexByte(s, ':')
	if colon < 7 || colon == len(s)-1 || len(s)-colon-1 > 5 {
		return "", false
	}
	port := 0
	for i := colon + 1; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return "", false
		}
		port = port*10 + int(c-'0')
	}
	if port > 65535 {
		return "", false
	}
	fields, digits, octet := 0, 0, 0
	for i := 0; i < colon; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && octet == 0 {
				return "", false // a leading zero
			}
			octet = octet*10 + int(c-'0')
			digits++
			if octet > 255 {
				return "", false
			}
		case c == '.' && digits > 0 && fields < 3:
			fields++
			digits, octet = 0, 0
		default:
			return "", false
		}
	}
	if fields != 3 || digits == 0 {
		return "", false
	}
	return s[:colon], true
}

// parseRemoteAddr parses an http.Request.RemoteAddr: "ip:port", "[ipv6]:port"
// (possibly with a zone) or, from non-net/http servers, a bare IP. It returns
// the normalized address and the text of the IP as it appeared.
func parseRemoteAddr(s string) (netip.Addr, string, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		host := s[:strings.LastIndexByte(s, ':')]
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		return ap.Addr().Unmap().WithZone(""), host, true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), s, true
	}
	return netip.Addr{}, "", false
}

// parseForwarded parses one X-Forwarded-For entry, surrounded by optional
// whitespace: "ip", "ip:port", "[ipv6]" or "[ipv6]:port".
func parseForwarded(s string) (netip.Addr, string, bool) {
	s = strings.Trim(s, " \t")
	if s == "" {
		return netip.Addr{}, "", false
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), s, true
	}
	return parseRemoteAddr(s)
}

// addrKey returns a's canonical text, reusing src (the text it was parsed
// from) when it is already canonical, which saves an allocation per request.
func addrKey(a netip.Addr, src string) string {
	var buf [64]byte
	b := a.AppendTo(buf[:0])
	if string(b) == src {
		return src
	}
	return string(b)
}

// CheckTrustedProxies reports whether prefixes is a set [ClientIP] accepts:
// every prefix valid, and no address family covered entirely, whether by
// one prefix (0.0.0.0/0, ::/0) or by several together (0.0.0.0/1 and
// 128.0.0.0/1): trusting every address of a family lets any client of that
// family choose its own key. IPv4-mapped IPv6 prefixes count as IPv4. The
// error names the offending prefix or prefixes; use it to report a bad
// TRUSTED_PROXIES-style setting as a configuration error.
func CheckTrustedProxies(prefixes ...netip.Prefix) error {
	var v4, v6 []netip.Prefix
	for _, p := range prefixes {
		if !p.IsValid() {
			return fmt.Errorf("invalid trusted proxy prefix %v; build it with netip.MustParsePrefix", p)
		}
		p = normalizePrefix(p)
		if p.Bits() == 0 {
			return fmt.Errorf("trusted proxy prefix %v covers every address; list only your proxies' networks", p)
		}
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	for _, set := range [][]netip.Prefix{v4, v6} {
		if coversFamily(set) {
			return fmt.Errorf("trusted proxy prefixes %v together cover every address; list only your proxies' networks", set)
		}
	}
	return nil
}

// normalizePrefix masks p and turns an IPv4-mapped IPv6 prefix into IPv4.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// coversFamily reports whether the union of set, all of one address family,
// is that whole family: sorted by first address, the prefixes must start at
// the family's first address and leave no gap up to its last.
func coversFamily(set []netip.Prefix) bool {
	if len(set) == 0 {
		return false
	}
	set = slices.Clone(set)
	slices.SortFunc(set, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	first := netip.IPv4Unspecified()
	if !set[0].Addr().Is4() {
		first = netip.IPv6Unspecified()
	}
	if set[0].Addr() != first {
		return false
	}
	end := lastAddr(set[0]) // the last address covered so far
	for _, p := range set[1:] {
		if next := end.Next(); !next.IsValid() {
			return true // end is the family's last address
		} else if p.Addr().Compare(next) > 0 {
			return false // a gap before p
		}
		if l := lastAddr(p); l.Compare(end) > 0 {
			end = l
		}
	}
	return !end.Next().IsValid()
}

// lastAddr returns the last address of the masked prefix p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	off := 0
	if p.Addr().Is4() {
		off = 96
	}
	for i := off + p.Bits(); i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		a = a.Unmap()
	}
	return a
}
