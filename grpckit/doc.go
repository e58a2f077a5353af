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
//			// Health methods are exempt by default (grpckit.HealthMethod).
//		}),
//		grpckit.QuietMethods(grpc_health_v1.Health_Check_FullMethodName,
//			grpc_health_v1.Health_Watch_FullMethodName),
//	)...)
//	notespb.RegisterNotesServer(srv, notes)
//	hs := grpckit.RegisterHealth(srv, checker)
//
//	lis, err := net.Listen("tcp", ":9090")
//	...
//	err = lifecycle.Run(ctx,
//		grpckit.Serve(srv, lis,
//			lifecycle.BeforeShutdown(hs.Shutdown),
//			lifecycle.DrainDelay(5*time.Second),
//			lifecycle.ShutdownTimeout(10*time.Second)),
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
// Rate limiting runs first, when grpc-go creates the stream (see Rate
// limiting). Then ServerOptions installs one unary and one stream
// interceptor that expand, from the outside in, to
//
//	AccessLog(StatusMapping(Recovery(yourInterceptors(handler))))
//
// so that the access log and the otelgrpc span see the final code, including
// Internal for a recovered panic.
//
// # Access log
//
// Each call writes one line with message "grpc request" once it ends:
//
//	method    the full method, "/notes.v1.Notes/Get"
//	code      the status code sent, "OK", "NotFound" ...
//	duration  time spent in the interceptors and handler
//	peer      the peer's address, if known
//	error     the handler's error text, before mapping (never sent to clients)
//	panic     true if the handler panicked
//
// Every record is written with the call's context (logger.LogAttrs(ctx,
// ...)), so a handler that correlates records with the span in the context,
// such as logz's, adds trace_id and span_id; this package never adds them
// itself, so they are never logged twice however the handler is wrapped.
//
// Calls ending with the codes OpenTelemetry counts as server errors (Unknown,
// DeadlineExceeded, Unimplemented, Internal, Unavailable, DataLoss), and
// panics, are logged at level Error; all others at Info, client errors
// included, and so are health Watch streams ended by a shutdown (their
// Unavailable is the normal end of a stream). Metadata and messages are
// never logged. Calls refused by rate limiting are logged too. Streams that
// grpc-go itself refuses before any chassis code runs (beyond
// MaxConcurrentStreams, a header list over MaxHeaderListSize, a malformed
// request) are not: grpc-go offers no per-stream hook for them (the stats
// handler sees connections, not refused streams).
//
// # Rate limiting
//
// WithRateLimit decides each call (each stream, once) with any guard.Limiter
// for a key from the peer's IP (KeyFromPeer) or a metadata entry
// (KeyFromMetadata), when grpc-go creates the stream (grpc.InTapHandle):
// before any message is read, so streams reset at once (HTTP/2 rapid reset)
// or never half-closed are charged. A denied call fails with
// ResourceExhausted whose status details carry a google.rpc.RetryInfo with
// the delay to wait, which gRPC clients can read with
// status.Convert(err).Details(). The methods of the standard health service
// are exempt by default, so that a flood cannot fail the probes; a key
// function's error is answered as guard.RateLimit answers it (the
// *problem.Error it wraps, else InvalidArgument).
//
// # Transport limits
//
// ServerOptions sets grpc-go's transport limits to the equivalents of
// httpkit.NewServer's (see the Default* constants): at most 250 concurrent
// streams per connection, 64 KiB of headers, 10s for the connection
// handshake, 1 MiB messages, idle connections closed after 120s and every
// connection after 30m (+1m of grace for its streams). Pass grpc options
// after ServerOptions' to override them.
//
// # Options
//
// Options for ServerOptions are ServerOptions and options for DialOptions
// are DialOptions; the shared ones (WithTracerProvider, WithMeterProvider,
// WithPropagators, WithOTelOptions) are both, so a server-only option given
// to DialOptions does not compile. A nil option is ignored and a nil value
// given to an option means the default (a nil provider is the global one).
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
// by watchers. Watch refuses service names longer than 256 bytes with
// InvalidArgument and keeps only the name, not the request, while it runs.
//
// # Serve
//
// Serve runs a *grpc.Server as a lifecycle.Component with lifecycle's drain
// sequence and options (lifecycle.BeforeShutdown, lifecycle.DrainDelay,
// lifecycle.ShutdownTimeout), the same as lifecycle.HTTP's, and returns
// within DrainDelay + ShutdownTimeout + 1s whatever clients do.
//
// # Clients
//
// DialOptions adds tracing and metrics to grpc.NewClient and, with
// WithRetry, WithBreaker and WithHedge, the resilience package call gives
// HTTP clients, built on package retry and package breaker. It never adds
// transport credentials: pass grpc.WithTransportCredentials yourself.
//
//	budget := retry.NewBudget(retry.BudgetConfig{}) // one per dependency
//	conn, err := grpc.NewClient("dns:///notes:9090", append(grpckit.DialOptions(
//		grpckit.WithRetry(retry.Policy{MaxAttempts: 3, Budget: budget}),
//		grpckit.WithBreaker(breaker.Policy{}),
//		grpckit.WithHedge(grpckit.HedgePolicy{Delay: 50 * time.Millisecond}),
//		grpckit.Idempotent(notespb.Notes_Get_FullMethodName, notespb.Notes_List_FullMethodName),
//	), grpc.WithTransportCredentials(creds))...)
//
// The rules, for unary calls (streams pass through untouched):
//   - Only idempotent methods are retried or hedged: those declared with
//     Idempotent or IdempotentFunc, or marked in their .proto with option
//     idempotency_level = IDEMPOTENT (or NO_SIDE_EFFECTS). gRPC has no
//     idempotency marker on the wire: these are the only sources.
//   - Retried: Unavailable, and ResourceExhausted when the server sent a
//     delay, as a google.rpc.RetryInfo detail (WithRateLimit sends one) or
//     a grpc-retry-pushback-ms trailer; the delay replaces the backoff. A
//     negative pushback means "do not retry". Nothing else, unless
//     retry.Policy.Retryable says so.
//   - The caller's context bounds everything: retry.Do never starts a wait
//     that would end after its deadline, and returns the last error
//     instead.
//   - The breaker is per target (the string given to grpc.NewClient).
//     Unavailable, DeadlineExceeded, ResourceExhausted, Internal and
//     Unknown are failures; a call the caller canceled is neither success
//     nor failure. An open breaker fails calls at once with Unavailable,
//     and the error matches breaker.ErrOpen (errors.Is); it is never
//     retried.
//   - Hedging sends the call again when it had no answer for
//     HedgePolicy.Delay; the first OK (or non-retryable) answer wins and
//     the others are canceled. Each hedge spends one retry of the budget,
//     and none is sent while the breaker is not closed.
//
// The interceptor applies them in this order, outermost first:
//
//	Retry(Hedge(Breaker(attempt)))
//
// Retry is outermost so that its budget counts one request per call and
// its backoff spans everything inside; hedging runs within one try, so a
// retry, after its backoff, may be hedged again; the breaker is innermost
// so that every attempt the server sees, hedges included, is admitted by
// it and counted in it, and an open breaker refuses an attempt before it
// reaches the network (the refusal is not retried, as a retry would only be
// refused again). Interceptors added with grpc.WithChainUnaryInterceptor
// after DialOptions run inside, once per attempt, and so does the otelgrpc
// stats handler: every attempt (retries and hedges included) is a client
// span of its own, a child of the caller's span, and an rpc.client.*
// measurement. The interceptor counts, under this package's scope,
// chassis.grpc.client.retries and chassis.grpc.client.hedges (by
// rpc.method, "_OTHER" beyond the first 1000 methods a client sees, so
// that a proxy cannot grow the attribute sets without bound),
// chassis.grpc.client.retry_budget.exhausted (hedges the budget refused), and chassis.grpc.client.breaker.transitions (by
// chassis.breaker.state and chassis.grpc.target) and
// chassis.grpc.client.breaker.rejections (by chassis.grpc.target).
package grpckit
