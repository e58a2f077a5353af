package grpckit

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/tap"
)

// scope is the instrumentation scope of the metrics this package creates
// itself (otelgrpc uses its own scope for the rpc.* metrics and spans).
const scope = "github.com/chassis-go/chassis/grpckit"

// The transport limits [ServerOptions] sets. Each can be overridden by
// passing the grpc option after ServerOptions' (grpc.MaxConcurrentStreams,
// grpc.MaxHeaderListSize, grpc.ConnectionTimeout, grpc.MaxRecvMsgSize,
// grpc.KeepaliveParams with a whole keepalive.ServerParameters).
const (
	// DefaultMaxConcurrentStreams is the SETTINGS_MAX_CONCURRENT_STREAMS the
	// server advertises: streams beyond it on one connection are refused
	// (RST_STREAM REFUSED_STREAM), and grpc-go's rapid-reset mitigation
	// binds to it. net/http's HTTP/2 server uses the same number.
	DefaultMaxConcurrentStreams = 250
	// DefaultMaxHeaderListSize is the largest header list (metadata) a call
	// may send, 64 KiB like httpkit's MaxHeaderBytes; larger ones are reset.
	DefaultMaxHeaderListSize = 64 << 10
	// DefaultConnectionTimeout bounds the connection handshake (TLS and the
	// HTTP/2 preface), like httpkit's ReadHeaderTimeout: a connection that
	// never sends its preface is closed after it, instead of grpc-go's 120s.
	DefaultConnectionTimeout = 10 * time.Second
	// DefaultMaxRecvMsgSize is the largest message, after decompression, the
	// server accepts: 1 MiB (grpc-go's default is 4 MiB).
	DefaultMaxRecvMsgSize = 1 << 20
	// DefaultMaxConnectionIdle closes a connection with no active stream
	// for this long (with a GOAWAY), like httpkit's IdleTimeout.
	DefaultMaxConnectionIdle = 120 * time.Second
	// DefaultMaxConnectionAge closes every connection after this long (with
	// a GOAWAY, jittered ±10% by grpc-go), so that clients rebalance and no
	// stream lives for ever.
	DefaultMaxConnectionAge = 30 * time.Minute
	// DefaultMaxConnectionAgeGrace is how long streams may run after
	// MaxConnectionAge before the connection is closed: a half-open stream
	// lives at most MaxConnectionAge + MaxConnectionAgeGrace.
	DefaultMaxConnectionAgeGrace = time.Minute
)

// ServerOption configures [ServerOptions]. The shared options
// ([WithTracerProvider], [WithMeterProvider], [WithPropagators],
// [WithOTelOptions]) are ServerOptions too; [WithRateLimit] and
// [QuietMethods] are ServerOptions only. A nil ServerOption is ignored.
type ServerOption interface {
	applyServer(*serverConfig)
}

// DialOption configures [DialOptions]. The shared options are DialOptions
// too; [WithRetry], [WithBreaker], [WithHedge], [Idempotent] and
// [IdempotentFunc] are DialOptions only, so giving a server-only option to
// DialOptions, or a client-only one to ServerOptions, does not compile. A
// nil DialOption is ignored.
type DialOption interface {
	applyDial(*dialConfig)
}

// Option is an option shared by [ServerOptions] and [DialOptions]: it is
// both a [ServerOption] and a [DialOption]. A nil Option is ignored.
type Option func(*telemetryConfig)

func (o Option) applyServer(c *serverConfig) {
	if o != nil {
		o(&c.telemetry)
	}
}

func (o Option) applyDial(c *dialConfig) {
	if o != nil {
		o(&c.telemetry)
	}
}

// serverOnly is the type of the server-only options.
type serverOnly func(*serverConfig)

func (o serverOnly) applyServer(c *serverConfig) {
	if o != nil {
		o(c)
	}
}

// telemetryConfig is what the shared options set.
type telemetryConfig struct {
	tp   trace.TracerProvider
	mp   metric.MeterProvider
	prop propagation.TextMapPropagator
	otel []otelgrpc.Option
}

// serverConfig is what the ServerOptions set.
type serverConfig struct {
	telemetry telemetryConfig
	rateLimit *RateLimitConfig
	shed      *shedder
	quiet     map[string]bool
}

// otelOptions returns the otelgrpc options: the providers and propagators
// that were set, then the WithOTelOptions ones.
func (o *telemetryConfig) otelOptions() []otelgrpc.Option {
	out := make([]otelgrpc.Option, 0, 3+len(o.otel))
	if o.tp != nil {
		out = append(out, otelgrpc.WithTracerProvider(o.tp))
	}
	if o.mp != nil {
		out = append(out, otelgrpc.WithMeterProvider(o.mp))
	}
	if o.prop != nil {
		out = append(out, otelgrpc.WithPropagators(o.prop))
	}
	return append(out, o.otel...)
}

// WithTracerProvider sets the TracerProvider of the otelgrpc stats handler
// (server or client spans). Nil, like omitting the option, means the global
// provider, otel.GetTracerProvider(), as otelgrpc reads it.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *telemetryConfig) { o.tp = tp }
}

// WithMeterProvider sets the MeterProvider of the otelgrpc stats handler
// (the rpc.server.* or rpc.client.* metrics) and of this package's own
// chassis.ratelimit.decisions counter. Nil, like omitting the option, means
// the global provider, otel.GetMeterProvider(), at the time ServerOptions or
// DialOptions is called.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *telemetryConfig) { o.mp = mp }
}

// WithPropagators sets how trace context is read from incoming metadata
// (server) or written to outgoing metadata (client). Nil, like omitting the
// option, means the global propagator, otel.GetTextMapPropagator().
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(o *telemetryConfig) { o.prop = p }
}

// WithOTelOptions passes further options to the otelgrpc stats handler, after
// the ones the options above produce, for what this package does not wrap:
// otelgrpc.WithFilter to skip spans for health checks, otelgrpc.WithPublicEndpoint
// for a server reachable by untrusted clients (their trace context then
// becomes a link instead of the parent), and so on.
func WithOTelOptions(opts ...otelgrpc.Option) Option {
	opts = append([]otelgrpc.Option(nil), opts...)
	return func(o *telemetryConfig) { o.otel = append(o.otel, opts...) }
}

// QuietMethods keeps the access log line of the given methods (full names,
// such as grpc_health_v1.Health_Check_FullMethodName) out of the log when it
// would be at Info level, so that frequent probes do not drown the log. Calls
// that end with a server-fault code or a panic are still logged at Error
// level, and tracing, metrics and rate limiting are unaffected.
func QuietMethods(fullMethods ...string) ServerOption {
	methods := append([]string(nil), fullMethods...)
	return serverOnly(func(o *serverConfig) {
		if o.quiet == nil {
			o.quiet = make(map[string]bool, len(methods))
		}
		for _, m := range methods {
			o.quiet[m] = true
		}
	})
}

// ServerOptions returns the grpc.ServerOptions of a chassis server: pass them
// to grpc.NewServer, with any options of your own after them.
//
//	srv := grpc.NewServer(grpckit.ServerOptions(logger,
//		grpckit.WithRateLimit(grpckit.RateLimitConfig{Limiter: limiter, Key: grpckit.KeyFromPeer()}),
//	)...)
//
// The options are, first, transport limits (see the Default* constants;
// override one by passing the grpc option after these):
//
//   - grpc.MaxConcurrentStreams(DefaultMaxConcurrentStreams) (250);
//   - grpc.MaxHeaderListSize(DefaultMaxHeaderListSize) (64 KiB);
//   - grpc.ConnectionTimeout(DefaultConnectionTimeout) (10s);
//   - grpc.MaxRecvMsgSize(DefaultMaxRecvMsgSize) (1 MiB);
//   - grpc.KeepaliveParams with MaxConnectionIdle 120s, MaxConnectionAge
//     30m and MaxConnectionAgeGrace 1m (ping Time and Timeout are grpc-go's
//     defaults, 2h and 20s); the keepalive enforcement policy stays grpc-go's
//     default (pings at most every 5 minutes, none without streams; a ping
//     flood gets GOAWAY ENHANCE_YOUR_CALM).
//
// Then, with [WithRateLimit] and/or [WithShed], a grpc.InTapHandle that admits each stream
// when it is created, before grpc-go reads its messages or starts a
// goroutine for it (only one InTapHandle can be installed on a server, so
// do not add your own). Then a stats handler (otelgrpc.NewServerHandler)
// for tracing and the rpc.server.* metrics, and one unary and one stream
// interceptor (grpc.ChainUnaryInterceptor, grpc.ChainStreamInterceptor)
// that apply, from the outside in:
//
//	AccessLog(StatusMapping(Recovery(yourInterceptors(handler))))
//
// where:
//   - AccessLog writes one line per call after it ends, with the final code
//     (see the package documentation for the fields and levels);
//   - StatusMapping turns the error returned from inside into a gRPC status:
//     a *problem.Error anywhere in the chain becomes its code and Detail,
//     a status error passes through unchanged, a context error becomes
//     Canceled or DeadlineExceeded, and anything else (a panic included)
//     becomes Internal with the message "internal error";
//   - Recovery turns a panic of the handler or of an inner interceptor into
//     an error, after logging the panic value (bounded to about 1 KiB) and
//     stack at level Error with message "grpc handler panic"; the process
//     keeps running.
//
// Interceptors you add with grpc.ChainUnaryInterceptor or
// grpc.ChainStreamInterceptor after these options run inside Recovery, so
// their panics are recovered and their errors mapped too. The stats handler
// sees the mapped status, so spans and metrics carry the same code as the
// log. A panic on a goroutine the handler started cannot be recovered here.
//
// logger receives the access log, panics and rate limiter errors; it is
// always called with the call's context (logger.LogAttrs(ctx, ...)), so a
// handler that correlates records with the span in the context (logz's
// does) adds trace_id and span_id; this package adds neither. Panics if
// logger is nil.
func ServerOptions(logger *slog.Logger, opts ...ServerOption) []grpc.ServerOption {
	if logger == nil {
		panic("grpckit.ServerOptions: logger is nil; pass slog.Default() or a logz logger")
	}
	var c serverConfig
	for _, opt := range opts {
		if opt != nil {
			opt.applyServer(&c)
		}
	}
	s := &serverMW{logger: logger, quiet: c.quiet}
	out := []grpc.ServerOption{
		grpc.MaxConcurrentStreams(DefaultMaxConcurrentStreams),
		grpc.MaxHeaderListSize(DefaultMaxHeaderListSize),
		grpc.ConnectionTimeout(DefaultConnectionTimeout),
		grpc.MaxRecvMsgSize(DefaultMaxRecvMsgSize),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle:     DefaultMaxConnectionIdle,
			MaxConnectionAge:      DefaultMaxConnectionAge,
			MaxConnectionAgeGrace: DefaultMaxConnectionAgeGrace,
		}),
	}
	// grpc-go accepts one InTapHandle: rate limiting and shedding share it,
	// the per-client limit first, so that a client over its own quota takes
	// no unit of the shared limit.
	var rl *rateLimiter
	if c.rateLimit != nil {
		rl = newRateLimiter(*c.rateLimit, s, c.telemetry.mp)
	}
	switch {
	case rl != nil && c.shed != nil:
		out = append(out, grpc.InTapHandle(func(ctx context.Context, info *tap.Info) (context.Context, error) {
			ctx, err := rl.tap(ctx, info)
			if err != nil {
				return ctx, err
			}
			return c.shed.tap(ctx, info)
		}))
	case rl != nil:
		out = append(out, grpc.InTapHandle(rl.tap))
	case c.shed != nil:
		out = append(out, grpc.InTapHandle(c.shed.tap))
	}
	return append(out,
		grpc.StatsHandler(otelgrpc.NewServerHandler(c.telemetry.otelOptions()...)),
		grpc.ChainUnaryInterceptor(s.unary),
		grpc.ChainStreamInterceptor(s.stream),
	)
}

// DialOptions returns the grpc.DialOptions of a chassis client: a stats
// handler (otelgrpc.NewClientHandler) that creates client spans, propagates
// the trace context in the outgoing metadata and records the rpc.client.*
// metrics, and, with [WithRetry], [WithBreaker] or [WithHedge], one unary
// client interceptor (grpc.WithChainUnaryInterceptor) that applies them to
// each unary call, outermost first:
//
//	Retry(Hedge(Breaker(attempt)))
//
// (see "Clients" in the package documentation for the rules, and the
// reasons for this order). Streams pass through untouched. Interceptors you
// add with grpc.WithChainUnaryInterceptor after these options run inside
// Breaker, once per attempt. It adds no transport credentials: choose them
// yourself, as in
//
//	conn, err := grpc.NewClient(target, append(grpckit.DialOptions(
//		grpckit.WithRetry(retry.Policy{Budget: budget}),
//		grpckit.WithBreaker(breaker.Policy{}),
//		grpckit.Idempotent(notespb.Notes_Get_FullMethodName),
//	), grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))...)
//
// (insecure.NewCredentials() only for plaintext inside a trusted network).
// The returned options keep the breakers (one per target) and may be given
// to several grpc.NewClient calls: clients of one target then share its
// breaker, as they share the retry Budget. Convert errors of calls with
// [ProblemFromStatus].
func DialOptions(opts ...DialOption) []grpc.DialOption {
	var c dialConfig
	for _, opt := range opts {
		if opt != nil {
			opt.applyDial(&c)
		}
	}
	out := []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(c.telemetry.otelOptions()...))}
	if c.retry != nil || c.breaker != nil || c.hedge != nil {
		out = append(out, grpc.WithChainUnaryInterceptor(newClient(&c).unary))
	}
	return out
}
