// Package lifecycle runs the long-lived parts of a service and stops them
// gracefully. [Run] is the entry point: it runs components until a signal,
// a cancelled context or a failing component begins shutdown, then cancels
// them all and waits for them, for at most a grace period. [HTTP] turns an
// *http.Server into a component that drains before it stops; [Serve] runs
// the same drain sequence for any [Server] (grpckit.Serve uses it for gRPC),
// configured by the same [DrainOption]s: [BeforeShutdown], [DrainDelay] and
// [ShutdownTimeout].
//
//	checker := health.New()
//	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
//	err := lifecycle.Run(context.Background(),
//		lifecycle.HTTP(srv,
//			lifecycle.BeforeShutdown(checker.SetDraining),
//			lifecycle.DrainDelay(5*time.Second),
//			lifecycle.ShutdownTimeout(10*time.Second)),
//		consumer.Run, // any func(context.Context) error
//	)
//	if err != nil {
//		logger.Error("service stopped", "err", err)
//		os.Exit(1)
//	}
//
// # Shutdown sequence
//
// On SIGTERM (what Kubernetes sends) the HTTP component above marks the
// checker as draining, so /readyz answers 503 while every request is still
// served; after 5s, when load balancers have stopped routing here, it stops
// accepting connections and gives in-flight requests up to 10s to finish;
// meanwhile the consumer sees its context cancelled and returns. Run returns
// nil once everything has stopped, and main exits 0. A second SIGTERM or
// SIGINT during that time exits at once with status 1. A component that
// ignores its context cannot hold the process: after [DefaultGrace] (30s)
// Run returns an error matching [ErrStillRunning] that names it.
//
// # Options
//
// A nil option is ignored, and a nil value given to an option means the
// default, as if the option were absent (BeforeShutdown(nil), Listener(nil)).
// Invalid values (a negative DrainDelay, a ShutdownTimeout that is not
// positive) panic when the option is built, naming it.
//
// # Failures
//
// A component that returns, with an error or not, or panics, before
// shutdown began is a failure: the other components are stopped and Run
// returns its error ([ErrStoppedEarly] for a nil return, a *[PanicError]
// for a panic), so that main can exit non-zero and the orchestrator
// restarts the process.
package lifecycle
