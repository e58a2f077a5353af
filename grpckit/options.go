package grpckit

import (
	"log/slog"

	"github.com/chassis-go/chassis/internal/tracelog"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// scope is the instrumentation scope of the metrics this package creates
// itself (otelgrpc uses its own scope for the rpc.* metrics and spans).
const scope = "github.com/chassis-go/chassis/grpckit"

// Option configures [ServerOptions] or [DialOptions]. The telemetry options
// (WithTracerProvider, WithMeterProvider, WithPropagators, WithOTelOptions)
// apply to both; WithRateLimit and QuietMethods are server-only, and
// DialOptions panics if given one.
type Option func(*options)

type options struct {
	tp         trace.TracerProvider
	mp         metric.MeterProvider
	prop       propagation.TextMapPropagator
	otel       []otelgrpc.Option
	rateLimit  *RateLimitConfig
	quiet      map[string]bool
	serverOnly string // name of the first server-only option given, for DialOptions' panic
}

func buildOptions(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		opt(o)
	}
	return o
}

func (o *options) markServerOnly(name string) {
	if o.serverOnly == "" {
		o.serverOnly = name
	}
}

// otelOptions returns the otelgrpc options: the providers and propagators
// that were set, then the WithOTelOptions ones.
func (o *options) otelOptions() []otelgrpc.Option {
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

func (o *options) meterProvider() metric.MeterProvider {
	if o.mp != nil {
		return o.mp
	}
	return otel.GetMeterProvider()
}

// WithTracerProvider sets the TracerProvider of the otelgrpc stats handler
// (server or client spans). The default is the global provider,
// otel.GetTracerProvider(), as otelgrpc reads it. Panics if tp is nil.
func WithTracerProvider(tp trace.TracerProvider) Option {
	if tp == nil {
		panic("grpckit.WithTracerProvider: tp is nil; omit the option to use the global provider")
	}
	return func(o *options) { o.tp = tp }
}

// WithMeterProvider sets the MeterProvider of the otelgrpc stats handler
// (the rpc.server.* or rpc.client.* metrics) and of this package's own
// chassis.ratelimit.decisions counter. The default is the global provider,
// otel.GetMeterProvider(), at the time ServerOptions or DialOptions is called.
// Panics if mp is nil.
func WithMeterProvider(mp metric.MeterProvider) Option {
	if mp == nil {
		panic("grpckit.WithMeterProvider: mp is nil; omit the option to use the global provider")
	}
	return func(o *options) { o.mp = mp }
}

// WithPropagators sets how trace context is read from incoming metadata
// (server) or written to outgoing metadata (client). The default is the
// global propagator, otel.GetTextMapPropagator(). Panics if p is nil.
func WithPropagators(p propagation.TextMapPropagator) Option {
	if p == nil {
		panic("grpckit.WithPropagators: p is nil; omit the option to use the global propagator")
	}
	return func(o *options) { o.prop = p }
}

// WithOTelOptions passes further options to the otelgrpc stats handler, after
// the ones the options above produce, for what this package does not wrap:
// otelgrpc.WithFilter to skip spans for health checks, otelgrpc.WithPublicEndpoint
// for a server reachable by untrusted clients (their trace context then
// becomes a link instead of the parent), and so on.
func WithOTelOptions(opts ...otelgrpc.Option) Option {
	opts = append([]otelgrpc.Option(nil), opts...)
	return func(o *options) { o.otel = append(o.otel, opts...) }
}

// QuietMethods keeps the access log line of the given methods (full names,
// such as grpc_health_v1.Health_Check_FullMethodName) out of the log when it
// would be at Info level, so that frequent probes do not drown the log. Calls
// that end with a server-fault code or a panic are still logged at Error
// level, and tracing, metrics and rate limiting are unaffected. Server-only.
func QuietMethods(fullMethods ...string) Option {
	methods := append([]string(nil), fullMethods...)
	return func(o *options) {
		o.markServerOnly("QuietMethods")
		if o.quiet == nil {
			o.quiet = make(map[string]bool, len(methods))
		}
		for _, m := range methods {
			o.quiet[m] = true
		}
	}
}

// ServerOptions returns the grpc.ServerOptions of a chassis server: pass them
// to grpc.NewServer, with any options of your own after them.
//
//	srv := grpc.NewServer(grpckit.ServerOptions(logger,
//		grpckit.WithRateLimit(grpckit.RateLimitConfig{Limiter: limiter, Key: grpckit.KeyFromPeer()}),
//	)...)
//
// The options are a stats handler (otelgrpc.NewServerHandler) for tracing and
// the rpc.server.* metrics, and one unary and one stream interceptor
// (grpc.ChainUnaryInterceptor, grpc.ChainStreamInterceptor) that apply, from
// the outside in:
//
//	AccessLog(StatusMapping(Recovery(RateLimit(yourInterceptors(handler)))))
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
//     an error, after logging the panic value and stack at level Error with
//     message "grpc handler panic"; the process keeps running;
//   - RateLimit, only with [WithRateLimit], decides before the handler runs
//     (once per stream for streaming calls).
//
// Interceptors you add with grpc.ChainUnaryInterceptor or
// grpc.ChainStreamInterceptor after these options run inside RateLimit, so
// their panics are recovered and their errors mapped too. The stats handler
// sees the mapped status, so spans and metrics carry the same code as the
// log. A panic on a goroutine the handler started cannot be recovered here.
//
// logger receives the access log, panics and rate limiter errors; it is used
// with each call's context, so a context-aware handler (logz) sees the span.
// Panics if logger is nil or an option does.
func ServerOptions(logger *slog.Logger, opts ...Option) []grpc.ServerOption {
	if logger == nil {
		panic("grpckit.ServerOptions: logger is nil; pass slog.Default() or a logz logger")
	}
	o := buildOptions(opts)
	s := &serverMW{
		logger:   logger,
		addTrace: !tracelog.HandlerAdds(logger),
		quiet:    o.quiet,
	}
	if o.rateLimit != nil {
		s.limit = newRateLimiter(*o.rateLimit, logger, o.meterProvider())
	}
	return []grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(o.otelOptions()...)),
		grpc.ChainUnaryInterceptor(s.unary),
		grpc.ChainStreamInterceptor(s.stream),
	}
}

// DialOptions returns the grpc.DialOptions of a chassis client: a stats
// handler (otelgrpc.NewClientHandler) that creates client spans, propagates
// the trace context in the outgoing metadata and records the rpc.client.*
// metrics. It adds no transport credentials: choose them yourself, as in
//
//	conn, err := grpc.NewClient(target, append(grpckit.DialOptions(),
//		grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))...)
//
// (insecure.NewCredentials() only for plaintext inside a trusted network).
// Convert errors of calls with [ProblemFromStatus]. Panics if an option is
// server-only (WithRateLimit, QuietMethods).
func DialOptions(opts ...Option) []grpc.DialOption {
	o := buildOptions(opts)
	if o.serverOnly != "" {
		panic("grpckit.DialOptions: " + o.serverOnly + " is a server option; pass it to ServerOptions")
	}
	return []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(o.otelOptions()...))}
}
