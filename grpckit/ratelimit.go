package grpckit

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/internal/ratecore"
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
	// guard/redislimit Limiter. Required. It is called on the connection's
	// reader goroutine when a stream is created (see [WithRateLimit]), so a
	// limiter with a network round trip (Redis) delays the other streams of
	// that connection by it.
	Limiter guard.Limiter

	// Key names the client a call is counted against, typically
	// [KeyFromPeer] or [KeyFromMetadata]. Required. Its context carries the
	// peer and the incoming metadata, nothing that interceptors add. A Key
	// error means the client cannot be identified: the limiter and the
	// handler are not called and the error is logged at Warn level. The
	// call fails with the code and Detail of the *problem.Error the error is
	// or wraps, if any (so a custom KeyFunc can answer Unauthenticated), and
	// otherwise with InvalidArgument "cannot identify client" (the gRPC form
	// of guard.RateLimit's 400, which follows the same rule).
	Key KeyFunc

	// FailClosed chooses what happens when the Limiter returns an error (Redis
	// unreachable, say): false (the default) fails open, running the call as
	// if it had been allowed; true fails it with Unavailable "rate limiter
	// unavailable". Either way the error is logged at Error level and counted
	// as chassis.decision=error.
	FailClosed bool

	// Exempt is called first with the call's full method name
	// ("/grpc.health.v1.Health/Check"); calls for which it returns true skip
	// rate limiting entirely: no key, no limiter call, no metrics. Nil means
	// [HealthMethod]: health probes are exempt, so that a flood cannot make
	// the orchestrator restart a healthy process. To charge every call, pass
	// func(string) bool { return false }. It must be safe for concurrent use.
	Exempt func(fullMethod string) bool
}

// HealthMethod reports whether fullMethod is a method of the standard
// health service, grpc.health.v1.Health (Check, Watch, List): the default
// of [RateLimitConfig.Exempt].
func HealthMethod(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/")
}

// WithRateLimit adds rate limiting to [ServerOptions]: every call (every
// stream, for streaming RPCs) is decided by cfg.Limiter for the key cfg.Key
// returns when grpc-go creates the stream (grpc.InTapHandle), before it
// reads any message and before any handler goroutine starts, so streams
// that are reset at once or never half-closed are charged too.
//
//   - Allowed: the call proceeds.
//   - Denied: the call fails with ResourceExhausted "rate limit exceeded",
//     whose status details carry a google.rpc.RetryInfo with the
//     Decision.RetryAfter as retry_delay and a google.rpc.QuotaFailure
//     describing the limit (no client key).
//   - Key error, limiter error: see [RateLimitConfig].
//
// A refused call never reaches the interceptors or the stats handler (no
// span, no rpc.server.* metrics), so this package writes its access log line
// itself, with the same fields and levels as other calls.
//
// Decisions are counted in chassis.ratelimit.decisions ({decision}; attributes
// chassis.decision = allowed / denied / error and chassis.limiter = memory,
// the Limiter's Kind() if it has that method, or other), under this package's
// scope; attributes never include keys. Key and limiter errors are logged
// with the ServerOptions logger, at most one record per kind per second.
// Given twice, the last one wins. Panics if cfg.Limiter or cfg.Key is nil.
func WithRateLimit(cfg RateLimitConfig) ServerOption {
	if cfg.Limiter == nil {
		panic("grpckit.WithRateLimit: cfg.Limiter is nil; build one with guard.NewMemoryLimiter")
	}
	if cfg.Key == nil {
		panic("grpckit.WithRateLimit: cfg.Key is nil; use grpckit.KeyFromPeer() or grpckit.KeyFromMetadata(name)")
	}
	return serverOnly(func(o *serverConfig) {
		c := cfg
		o.rateLimit = &c
	})
}

// rateLimiter renders the decisions of its core as gRPC statuses, at stream
// creation.
type rateLimiter struct {
	core *ratecore.Core[string, guard.Decision]
	mw   *serverMW // for the access log of refused calls
}

var (
	errNoKey      = status.Error(codes.InvalidArgument, "cannot identify client")
	errLimiterOff = status.Error(codes.Unavailable, "rate limiter unavailable")
)

func newRateLimiter(cfg RateLimitConfig, mw *serverMW, mp metric.MeterProvider) *rateLimiter {
	return newRateLimiterClock(cfg, mw, mp, nil)
}

// newRateLimiterClock is newRateLimiter with the clock of the log
// throttles (nil: time.Now), for tests.
func newRateLimiterClock(cfg RateLimitConfig, mw *serverMW, mp metric.MeterProvider, now func() time.Time) *rateLimiter {
	exempt := cfg.Exempt
	if exempt == nil {
		exempt = HealthMethod
	}
	key := cfg.Key
	_, memory := cfg.Limiter.(*guard.MemoryLimiter)
	return &rateLimiter{
		mw: mw,
		core: ratecore.New(ratecore.Config[string, guard.Decision]{
			Name:    "grpckit",
			Scope:   scope,
			Limiter: cfg.Limiter,
			Allowed: func(d guard.Decision) bool { return d.Allowed },
			Kind:    ratecore.Kind(cfg.Limiter, memory),
			Key: func(ctx context.Context, _ string) (string, error) {
				return key(ctx)
			},
			Exempt:        exempt,
			FailClosed:    cfg.FailClosed,
			Logger:        mw.logger,
			LogAttrs:      func(method string) []slog.Attr { return []slog.Attr{slog.String("method", method)} },
			MeterProvider: mp,
			Now:           now,
		}),
	}
}

// check decides one call; a nil error lets it proceed.
func (rl *rateLimiter) check(ctx context.Context, method string) error {
	res := rl.core.Decide(ctx, method)
	switch res.Verdict {
	case ratecore.NoKey:
		if res.Problem != nil {
			_, err := toStatus(res.Problem)
			return err
		}
		return errNoKey
	case ratecore.FailedClosed:
		return errLimiterOff
	case ratecore.Denied:
		return deniedStatus(res.Decision)
	}
	return nil
}

// tap is the grpc.InTapHandle: it decides a stream when grpc-go creates it,
// and logs the access line of a refused one, which no interceptor sees.
func (rl *rateLimiter) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	err := rl.check(ctx, info.FullMethodName)
	if err != nil {
		rl.mw.logCall(ctx, info.FullMethodName, time.Now(), status.Code(err), err)
	}
	return ctx, err
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
