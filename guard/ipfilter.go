package guard

import (
	"time"

	"fmt"
	"github.com/chassis-go/chassis/internal/logthrottle"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"

	"go.opentelemetry.io/otel/metric"

	"github.com/chassis-go/chassis/problem"
)

// IPFilterConfig is the policy of [IPFilter]. The constructor copies it.
type IPFilterConfig struct {
	// Allow lists the networks whose clients may pass. Empty means every
	// client that Deny does not name.
	Allow []netip.Prefix
	// Deny lists the networks whose clients are refused, even when Allow
	// also contains them: deny wins.
	Deny []netip.Prefix
	// Key returns the client address of a request, such as [RemoteIP] or,
	// behind proxies you trust, [ClientIP]. Required.
	Key KeyFunc
	// Logger receives a warning when a request's key is not an IP address
	// or its key function failed: at most one record per second, carrying
	// a "suppressed" count of the warnings dropped since, because keys come
	// from clients and a flood of them must not flood the log. Nil means
	// slog.Default() at the time of logging.
	Logger *slog.Logger
	// MeterProvider is where the chassis.guard.rejections counter is
	// created. Nil means otel.GetMeterProvider() at construction.
	MeterProvider metric.MeterProvider
}

// ipFilterMaxLogged is how many bytes of an attacker-controlled key (or key
// error) a log record quotes.
const ipFilterMaxLogged = 256

// ipFilterProblem is the response of a refused client. It does not say why,
// so it reveals nothing of the rules.
var ipFilterProblem = problem.Forbidden("the client's address is not allowed")

// IPFilter admits or refuses requests by their client address, which
// cfg.Key returns. A refused request gets a 403 problem+json response and
// next is not called; an admitted one reaches next unchanged.
//
// The rules, in order: an address inside any Deny prefix is refused (deny
// wins); otherwise, if Allow is empty it is admitted, else it is admitted
// only if inside an Allow prefix. Addresses are compared without their IPv6
// zone, and IPv4-mapped IPv6 addresses (::ffff:192.0.2.1) as IPv4; prefixes
// written in the IPv4-mapped form are matched as IPv4 too.
//
// A key that is not an IP address, or a key function error, is refused with
// the same 403 and logged at warning level with the raw key or error text,
// quoted and cut to 256 bytes because it may come from the client.
//
// Lookups scan the prefix lists linearly, which is fast for the tens of
// prefixes such lists hold (tens of nanoseconds); thousands of prefixes
// would call for a radix tree.
//
// Each 403 is counted on chassis.guard.rejections with chassis.guard =
// ipfilter.
//
// Panics if cfg.Key is nil or if a prefix is not valid (the zero
// netip.Prefix, for example).
func IPFilter(cfg IPFilterConfig) func(http.Handler) http.Handler {
	if cfg.Key == nil {
		panic("guard.IPFilter: cfg.Key is nil; use guard.RemoteIP() or guard.ClientIP(trustedProxies...)")
	}
	f := &ipFilter{
		allow:      ipFilterPrefixes("Allow", cfg.Allow),
		deny:       ipFilterPrefixes("Deny", cfg.Deny),
		key:        cfg.Key,
		logger:     cfg.Logger,
		rejections: newRejectionCounter(cfg.MeterProvider, "ipfilter"),
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("guard.IPFilter: next handler is nil; pass the handler to protect")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !f.admit(r) {
				f.rejections.add(r)
				problem.Write(w, r, ipFilterProblem)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

type ipFilter struct {
	allow, deny []netip.Prefix
	key         KeyFunc
	logger      *slog.Logger
	rejections  rejectionCounter
	warnings    logthrottle.Throttle // one warning a second: keys come from clients
}

// ipFilterPrefixes validates and normalizes the prefixes of the named field.
func ipFilterPrefixes(field string, in []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(in))
	for i, p := range in {
		if !p.IsValid() {
			panic(fmt.Sprintf("guard.IPFilter: cfg.%s[%d] is not a valid prefix; build prefixes with netip.ParsePrefix or netip.MustParsePrefix", field, i))
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

// admit reports whether r's client may pass.
func (f *ipFilter) admit(r *http.Request) bool {
	key, err := f.key(r)
	if err != nil {
		f.warn(r, "guard.IPFilter: key function failed; request refused",
			slog.String("error", ipFilterQuote(err.Error())))
		return false
	}
	addr, err := netip.ParseAddr(key)
	if err != nil {
		f.warn(r, "guard.IPFilter: key is not an IP address; request refused",
			slog.String("key", ipFilterQuote(key)), slog.Int("key_len", len(key)))
		return false
	}
	return f.allowed(addr)
}

// allowed applies the rules to addr.
func (f *ipFilter) allowed(addr netip.Addr) bool {
	addr = addr.WithZone("").Unmap()
	for _, p := range f.deny {
		if p.Contains(addr) {
			return false
		}
	}
	if len(f.allow) == 0 {
		return true
	}
	for _, p := range f.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func (f *ipFilter) warn(r *http.Request, msg string, attrs ...slog.Attr) {
	suppressed, ok := f.warnings.Allow(time.Now())
	if !ok {
		return
	}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int64("suppressed", suppressed))
	}
	l := f.logger
	if l == nil {
		l = slog.Default()
	}
	l.LogAttrs(r.Context(), slog.LevelWarn, msg, attrs...)
}

// ipFilterQuote returns s cut to ipFilterMaxLogged bytes and quoted as a Go
// string, so control characters and invalid UTF-8 are escaped; a cut is
// marked with "..." after the closing quote.
func ipFilterQuote(s string) string {
	if len(s) <= ipFilterMaxLogged {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:ipFilterMaxLogged]) + "..."
}
