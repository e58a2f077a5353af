// Package grpckit provides gRPC servers and clients with the guarantees
// chassis gives HTTP: tracing and metrics, access logs, panic recovery,
// problem errors as gRPC statuses, rate limiting, the standard health
// service and a graceful stop. ServerOptions is the entry point most
// services need; Serve and RegisterHealth plug the server into package
// lifecycle and package health:
//
//	checker := health.New()
//	checker.Add("postgres", health.SQLPing(db))
//
//	srv := grpc.NewServer(grpckit.ServerOptions(logger,
//		grpckit.WithRateLimit(grpckit.RateLimitConfig{
//			Limiter: guard.NewMemoryLimiter(guard.PerSecond(50)),
//			Key:     grpckit.KeyFromPeer(),
//			Exempt:  func(m string) bool { return strings.HasPrefix(m, "/grpc.health.v1.Health/") },
//		}),
//		grpckit.QuietMethods(grpc_health_v1.Health_Check_FullMethodName),
//	)...)
//	notespb.RegisterNotesServer(srv, notes)
//	hs := grpckit.RegisterHealth(srv, checker)
//
//	lis, err := net.Listen("tcp", ":9090")
//	...
//	err = lifecycle.Run(ctx,
//		grpckit.Serve(srv, lis, grpckit.BeforeShutdown(hs.Shutdown), grpckit.DrainDelay(5*time.Second)),
//		hs.Run,
//	)
//
// This is the only chassis package that imports gRPC.
//
// # Errors
//
// Handlers return errors as they would over HTTP: a *problem.Error (or an
// error wrapping one) reaches the client as the status with its code
// (problem.Error.GRPCCode, so problem.NotFound is NotFound) and its Detail as
// the message. An error that already is a gRPC status passes through
// unchanged; context.DeadlineExceeded and context.Canceled become
// DeadlineExceeded and Canceled; anything else becomes Internal with the
// message "internal error", its text kept for the log. On the client side,
// ProblemFromStatus turns a status back into a *problem.Error, so a status
// from an upstream can be answered over HTTP with problem.Write.
//
// # Interceptor order
//
// ServerOptions installs one unary and one stream interceptor that expand,
// from the outside in, to
//
//	AccessLog(StatusMapping(Recovery(RateLimit(yourInterceptors(handler)))))
//
// so that the access log and the otelgrpc span see the final code, including
// Internal for a recovered panic and ResourceExhausted for a denial.
//
// # Access log
//
// Each call writes one line with message "grpc request" once it ends:
//
//	method    the full method, "/notes.v1.Notes/Get"
//	code      the status code sent, "OK", "NotFound" ...
//	duration  time spent in the interceptors and handler
//	peer      the peer's address, if known
//	trace_id, span_id  the call's span, if valid, unless the logger's handler
//	          adds them itself (a handler with a method AddsTraceContext() bool
//	          that returns true, as logz's has)
//	error     the handler's error text, before mapping (never sent to clients)
//	panic     true if the handler panicked
//
// Calls ending with the codes OpenTelemetry counts as server errors (Unknown,
// DeadlineExceeded, Unimplemented, Internal, Unavailable, DataLoss), and
// panics, are logged at level Error; all others at Info, client errors
// included. Metadata and messages are never logged.
//
// # Rate limiting
//
// WithRateLimit decides each call (each stream, once) with any guard.Limiter
// for a key from the peer's IP (KeyFromPeer) or a metadata entry
// (KeyFromMetadata). A denied call fails with ResourceExhausted whose status
// details carry a google.rpc.RetryInfo with the delay to wait, which
// gRPC clients can read with status.Convert(err).Details().
//
// # Telemetry
//
// The otelgrpc stats handler creates a span per call and records the
// rpc.server.* (rpc.client.* with DialOptions) metrics of the OpenTelemetry
// semantic conventions, through the providers given with WithTracerProvider
// and WithMeterProvider or the global ones. Rate limiting counts its
// decisions in chassis.ratelimit.decisions under the scope
// github.com/chassis-go/chassis/grpckit, with the same attributes as package
// guard's.
//
// # Health
//
// RegisterHealth serves grpc.health.v1.Health (the protocol of Kubernetes
// gRPC probes and of gRPC clients' health checking) from a health.Checker,
// with the overall status "" and one service per check. Health.Run polls the
// checker; when the Checker drains or Health.Shutdown is called, everything
// turns NOT_SERVING and Watch streams end, so a graceful stop is not held up
// by watchers.
//
// # Clients
//
// DialOptions adds tracing and metrics to grpc.NewClient. It never adds
// transport credentials: pass grpc.WithTransportCredentials yourself.
package grpckit
