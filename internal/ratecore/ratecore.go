// Package ratecore makes the rate-limit decision that guard.RateLimit (HTTP)
// and grpckit's rate limiting (gRPC) only render: exempt → key → allow →
// failure policy, with the throttled log records and the
// chassis.ratelimit.decisions counter. One home for the rules, so the two
// front ends cannot drift apart.
//
// The rule for a key function's error, the same in both front ends: the
// client cannot be identified, so the limiter is not consulted and the
// request is refused. If the error is or wraps a *problem.Error, that problem
// is the answer (so a key function can answer 401 / Unauthenticated);
// otherwise the answer is 400 / InvalidArgument "cannot identify client".
// Either way the error is logged at Warn level, throttled.
//
// It is generic over the request type R (*http.Request, a gRPC method name)
// and the decision type D (guard.Decision), because guard imports this
// package and it cannot import guard.
package ratecore

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/chassis-go/chassis/internal/logthrottle"
	"github.com/chassis-go/chassis/problem"
)

// Limiter is guard.Limiter, generic over its decision type.
type Limiter[D any] interface {
	Allow(ctx context.Context, key string) (D, error)
}

// Verdict is what Decide concluded.
type Verdict uint8

const (
	// Exempt: the request skips rate limiting (no key, no limiter, no
	// metric).
	Exempt Verdict = iota
	// Allowed: the limiter allowed the key; Result.Decision is its answer.
	Allowed
	// Denied: the limiter denied the key; Result.Decision is its answer.
	Denied
	// NoKey: the key function failed; Result.Err is its error and
	// Result.Problem the problem to answer with.
	NoKey
	// FailedOpen: the limiter failed and the policy is to let the request
	// through (without rate-limit headers).
	FailedOpen
	// FailedClosed: the limiter failed and the policy is to refuse the
	// request (503 / Unavailable).
	FailedClosed
)

// Result is one decision. Only the fields its Verdict names are set.
type Result[D any] struct {
	Verdict  Verdict
	Decision D
	Err      error          // NoKey, FailedOpen, FailedClosed
	Problem  *problem.Error // NoKey: the *problem.Error in Err, or nil for the default answer
}

// Config builds a Core. Limiter, Key and Allowed are required.
type Config[R, D any] struct {
	// Name prefixes the log messages: "guard", "grpckit".
	Name string
	// Scope is the instrumentation scope of the decisions counter.
	Scope string

	Limiter Limiter[D]
	// Allowed reports whether a decision allows the request.
	Allowed func(D) bool
	// Kind is the chassis.limiter attribute: "memory", "redis", "other".
	Kind string

	Key    func(ctx context.Context, r R) (string, error)
	Exempt func(r R) bool // nil: nothing is exempt

	FailClosed bool

	// Logger receives the key and limiter errors. Nil means slog.Default()
	// at the time of logging.
	Logger *slog.Logger
	// LogAttrs, if non-nil, adds attributes of r (the gRPC method) to each
	// log record. It is called only when a record is written.
	LogAttrs func(r R) []slog.Attr
	// MeterProvider nil means otel.GetMeterProvider() now.
	MeterProvider metric.MeterProvider
	// Now is the clock of the log throttles; nil means time.Now.
	Now func() time.Time
}

// Core decides requests. It is safe for concurrent use.
type Core[R, D any] struct {
	cfg                     Config[R, D]
	keyMsg, limitMsg        string
	counter                 metric.Int64Counter
	allowed, denied, failed []metric.AddOption
	keyLog, limitLog        logthrottle.Throttle
}

// New returns a Core for cfg. The caller has validated cfg.
func New[R, D any](cfg Config[R, D]) *Core[R, D] {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	c, err := mp.Meter(cfg.Scope).Int64Counter("chassis.ratelimit.decisions",
		metric.WithUnit("{decision}"),
		metric.WithDescription("Rate limit decisions, by outcome."))
	if err != nil {
		otel.Handle(err)
		c = noop.Int64Counter{}
	}
	opts := func(decision string) []metric.AddOption {
		return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String("chassis.decision", decision),
			attribute.String("chassis.limiter", cfg.Kind)))}
	}
	return &Core[R, D]{
		cfg:      cfg,
		keyMsg:   cfg.Name + ": rate limit: cannot identify client",
		limitMsg: cfg.Name + ": rate limiter failed",
		counter:  c,
		allowed:  opts("allowed"),
		denied:   opts("denied"),
		failed:   opts("error"),
	}
}

// Kind returns the chassis.limiter attribute value for l: "memory" if
// isMemory says so, the result of a Kind() string method if l has one, and
// "other" otherwise.
func Kind(l any, isMemory bool) string {
	if isMemory {
		return "memory"
	}
	if k, ok := l.(interface{ Kind() string }); ok {
		return k.Kind()
	}
	return "other"
}

// Decide decides r, counts the decision and logs errors (throttled). It
// allocates nothing on the allowed and denied paths beyond what the key
// function and the limiter do.
func (c *Core[R, D]) Decide(ctx context.Context, r R) Result[D] {
	if c.cfg.Exempt != nil && c.cfg.Exempt(r) {
		return Result[D]{Verdict: Exempt}
	}
	key, err := c.cfg.Key(ctx, r)
	if err != nil {
		c.log(ctx, &c.keyLog, slog.LevelWarn, c.keyMsg, r, err)
		p, _ := errors.AsType[*problem.Error](err)
		return Result[D]{Verdict: NoKey, Err: err, Problem: p}
	}
	d, err := c.cfg.Limiter.Allow(ctx, key)
	if err != nil {
		c.counter.Add(ctx, 1, c.failed...)
		c.log(ctx, &c.limitLog, slog.LevelError, c.limitMsg, r, err,
			slog.Bool("fail_closed", c.cfg.FailClosed))
		if c.cfg.FailClosed {
			return Result[D]{Verdict: FailedClosed, Err: err}
		}
		return Result[D]{Verdict: FailedOpen, Err: err}
	}
	if c.cfg.Allowed(d) {
		c.counter.Add(ctx, 1, c.allowed...)
		return Result[D]{Verdict: Allowed, Decision: d}
	}
	c.counter.Add(ctx, 1, c.denied...)
	return Result[D]{Verdict: Denied, Decision: d}
}

// log writes one record unless the throttle t suppresses it; records carry
// no client-supplied key.
func (c *Core[R, D]) log(ctx context.Context, t *logthrottle.Throttle, level slog.Level, msg string, r R, err error, attrs ...slog.Attr) {
	suppressed, ok := t.Allow(c.cfg.Now())
	if !ok {
		return
	}
	logger := c.cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if c.cfg.LogAttrs != nil {
		attrs = append(attrs, c.cfg.LogAttrs(r)...)
	}
	attrs = append(attrs, slog.Any("error", err))
	if suppressed > 0 {
		attrs = append(attrs, slog.Int64("suppressed", suppressed))
	}
	logger.LogAttrs(ctx, level, msg, attrs...)
}
