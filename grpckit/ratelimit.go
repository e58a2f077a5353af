package grpckit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/chassis-go/chassis/internal/logthrottle"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/problem"
)

// KeyFunc names the client a call is counted against, from the call's
// context (its peer and incoming metadata). An error means the call has no
// usable key; see [RateLimitConfig.Key]. It must be safe for concurrent use.
type KeyFunc func(ctx context.Context) (string, error)

// maxMetadataKey is the longest metadata value KeyFromMetadata accepts as a
// key, so that a limiter's memory stays bounded (as guard.Header does).
const maxMetadataKey = 512

// KeyFromPeer returns a KeyFunc that keys a call by the IP address of its
// direct peer, without the port, normalized as [guard.RemoteIP] does: an
// IPv4-mapped IPv6 address becomes IPv4, an IPv6 zone is dropped, IPv6 is in
// its canonical form. Behind a proxy every call has the proxy's address: use
// [KeyFromMetadata] with a metadata entry the proxy sets. If the peer is not
// an IP address (a Unix socket, an in-memory listener), the KeyFunc returns
// an error wrapping [guard.ErrNoClientIP].
func KeyFromPeer() KeyFunc {
	return func(ctx context.Context) (string, error) {
		p, ok := peer.FromContext(ctx)
		if !ok || p.Addr == nil {
			return "", fmt.Errorf("grpckit: no peer address: %w", guard.ErrNoClientIP)
		}
		if a, ok := peerIP(p.Addr); ok {
			return a.String(), nil
		}
		return "", fmt.Errorf("grpckit: peer address is not an ip: %w", guard.ErrNoClientIP)
	}
}

func peerIP(addr net.Addr) (netip.Addr, bool) {
	if tcp, ok := addr.(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(tcp.IP); ok {
			return a.Unmap().WithZone(""), true
		}
		return netip.Addr{}, false
	}
	s := addr.String()
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// KeyFromMetadata returns a KeyFunc that keys a call by the first value of
// the named incoming metadata entry (case-insensitive, as metadata keys
// are), such as an API key or a user id set by an authenticating proxy.
//
// It is safe only when something you trust sets the entry and removes any
// copy the client sent; otherwise every call can claim a fresh key. A missing
// or empty value, or one longer than 512 bytes, is an error wrapping
// [guard.ErrNoKey] rather than a key. Panics if name is empty.
func KeyFromMetadata(name string) KeyFunc {
	if name == "" {
		panic("grpckit.KeyFromMetadata: name is empty; pass the metadata key that carries the client key, such as \"x-api-key\"")
	}
	name = strings.ToLower(name)
	return func(ctx context.Context) (string, error) {
		var v string
		if vs := metadata.ValueFromIncomingContext(ctx, name); len(vs) > 0 {
			v = vs[0]
		}
		switch {
		case v == "":
			return "", fmt.Errorf("grpckit: metadata %s is missing or empty: %w", name, guard.ErrNoKey)
		case len(v) > maxMetadataKey:
			return "", fmt.Errorf("grpckit: metadata %s is longer than %d bytes: %w", name, maxMetadataKey, guard.ErrNoKey)
		}
		return v, nil
	}
}

// RateLimitConfig configures [WithRateLimit]. Limiter and Key are required;
// every other zero field means the documented default. WithRateLimit copies
// the config.
type RateLimitConfig struct {
	// Limiter decides each call, typically a guard.MemoryLimiter or a
	// guard/redislimit Limiter. Required.
	Limiter guard.Limiter

	// Key names the client a call is counted against, typically
	// [KeyFromPeer] or [KeyFromMetadata]. Required. A Key error fails the call
	// with InvalidArgument "cannot identify client" (the gRPC form of
	// guard.RateLimit's 400), or, if the error is or wraps a *problem.Error,
	// with that problem's code and detail, so a custom KeyFunc can answer
	// Unauthenticated. The error is logged at Warn level; the limiter and the
	// handler are not called.
	Key KeyFunc

	// FailClosed chooses what happens when the Limiter returns an error (Redis
	// unreachable, say): false (the default) fails open, running the call as
	// if it had been allowed; true fails it with Unavailable "rate limiter
	// unavailable". Either way the error is logged at Error level and counted
	// as chassis.decision=error.
	FailClosed bool

	// Exempt, if non-nil, is called first with the call's full method name
	// ("/grpc.health.v1.Health/Check"); calls for which it returns true skip
	// rate limiting entirely: no key, no limiter call, no metrics. It must be
	// safe for concurrent use.
	Exempt func(fullMethod string) bool
}

// WithRateLimit adds rate limiting to [ServerOptions]: every call (every
// stream, for streaming RPCs, counted once when it opens) is decided by
// cfg.Limiter for the key cfg.Key returns, before the handler runs.
//
//   - Allowed: the handler runs.
//   - Denied: the call fails with ResourceExhausted "rate limit exceeded",
//     whose status details carry a google.rpc.RetryInfo with the
//     Decision.RetryAfter as retry_delay and a google.rpc.QuotaFailure
//     describing the limit (no client key); the handler does not run.
//   - Key error, limiter error: see [RateLimitConfig].
//
// Decisions are counted in chassis.ratelimit.decisions ({decision}; attributes
// chassis.decision = allowed / denied / error and chassis.limiter = memory,
// the Limiter's Kind() if it has that method, or other), under this package's
// scope; attributes never include keys. Key and limiter errors are logged
// with the ServerOptions logger, at most one record per kind per second.
// Server-only; given twice, the last one wins. Panics if cfg.Limiter or
// cfg.Key is nil.
func WithRateLimit(cfg RateLimitConfig) Option {
	if cfg.Limiter == nil {
		panic("grpckit.WithRateLimit: cfg.Limiter is nil; build one with guard.NewMemoryLimiter")
	}
	if cfg.Key == nil {
		panic("grpckit.WithRateLimit: cfg.Key is nil; use grpckit.KeyFromPeer() or grpckit.KeyFromMetadata(name)")
	}
	return func(o *options) {
		o.markServerOnly("WithRateLimit")
		c := cfg
		o.rateLimit = &c
	}
}

type rateLimiter struct {
	limiter    guard.Limiter
	key        KeyFunc
	failClosed bool
	exempt     func(string) bool
	logger     *slog.Logger
	now        func() time.Time // for the log throttles

	counter                 metric.Int64Counter
	allowed, denied, failed []metric.AddOption

	keyLog, limitLog logthrottle.Throttle
}

var (
	errNoKey      = status.Error(codes.InvalidArgument, "cannot identify client")
	errLimiterOff = status.Error(codes.Unavailable, "rate limiter unavailable")
)

func newRateLimiter(cfg RateLimitConfig, logger *slog.Logger, mp metric.MeterProvider) *rateLimiter {
	c, err := mp.Meter(scope).Int64Counter("chassis.ratelimit.decisions",
		metric.WithUnit("{decision}"),
		metric.WithDescription("Rate limit decisions, by outcome."))
	if err != nil {
		otel.Handle(err)
		c = noop.Int64Counter{}
	}
	kind := limiterKind(cfg.Limiter)
	opts := func(decision string) []metric.AddOption {
		return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String("chassis.decision", decision),
			attribute.String("chassis.limiter", kind)))}
	}
	return &rateLimiter{
		limiter:    cfg.Limiter,
		key:        cfg.Key,
		failClosed: cfg.FailClosed,
		exempt:     cfg.Exempt,
		logger:     logger,
		now:        time.Now,
		counter:    c,
		allowed:    opts("allowed"),
		denied:     opts("denied"),
		failed:     opts("error"),
	}
}

func limiterKind(l guard.Limiter) string {
	switch l := l.(type) {
	case *guard.MemoryLimiter:
		return "memory"
	case interface{ Kind() string }:
		return l.Kind()
	}
	return "other"
}

// check decides one call; a nil error lets it proceed.
func (rl *rateLimiter) check(ctx context.Context, method string) error {
	if rl.exempt != nil && rl.exempt(method) {
		return nil
	}
	key, err := rl.key(ctx)
	if err != nil {
		rl.log(ctx, &rl.keyLog, slog.LevelWarn, "grpckit: rate limit: cannot identify client", method, err)
		if p, ok := errors.AsType[*problem.Error](err); ok {
			return p
		}
		return errNoKey
	}
	d, err := rl.limiter.Allow(ctx, key)
	if err != nil {
		rl.counter.Add(ctx, 1, rl.failed...)
		rl.log(ctx, &rl.limitLog, slog.LevelError, "grpckit: rate limiter failed", method, err,
			slog.Bool("fail_closed", rl.failClosed))
		if rl.failClosed {
			return errLimiterOff
		}
		return nil
	}
	if d.Allowed {
		rl.counter.Add(ctx, 1, rl.allowed...)
		return nil
	}
	rl.counter.Add(ctx, 1, rl.denied...)
	return deniedStatus(d)
}

// deniedStatus is the ResourceExhausted status of a denial, with RetryInfo
// and QuotaFailure details.
func deniedStatus(d guard.Decision) error {
	st := status.New(codes.ResourceExhausted, "rate limit exceeded")
	retry := &errdetails.RetryInfo{RetryDelay: durationpb.New(max(d.RetryAfter, 0))}
	desc := "rate limit exceeded"
	if d.Limit.Rate > 0 && d.Limit.Per > 0 {
		desc = fmt.Sprintf("rate limit of %d per %v exceeded (burst %d)", d.Limit.Rate, d.Limit.Per, d.Limit.Burst)
	}
	quota := &errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
		Subject:     "client",
		Description: desc,
	}}}
	if withDetails, err := st.WithDetails(retry, quota); err == nil {
		st = withDetails
	}
	return st.Err()
}

func (rl *rateLimiter) log(ctx context.Context, t *logthrottle.Throttle, level slog.Level, msg, method string, err error, attrs ...slog.Attr) {
	suppressed, ok := t.Allow(rl.now())
	if !ok {
		return
	}
	attrs = append(attrs, slog.String("method", method), slog.Any("error", err))
	if suppressed > 0 {
		attrs = append(attrs, slog.Int64("suppressed", suppressed))
	}
	rl.logger.LogAttrs(ctx, level, msg, attrs...)
}
