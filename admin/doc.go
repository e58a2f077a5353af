// Package admin serves the operator's view of a service: a live status page
// of every stateful part (clients, breakers, limiters, caches, jobs, health
// checks), the same data as JSON, a detailed health report, metrics, pprof
// and the log level. [New] builds the handler and [Admin.Add] registers
// anything that can report its state.
//
// # Its own listener
//
// An Admin shows internals (error texts, addresses, configuration, heap
// profiles), so it never shares the public port. Serve it at the root of
// its own listener, bound to a loopback address by default, and set
// Config.Token before binding it anywhere else (or put it behind mTLS):
//
//	levels := new(slog.LevelVar)
//	adm := admin.New(admin.Config{
//		Checker:  checker,                 // /healthz with error texts
//		Metrics:  provider.MetricsHandler(),
//		LevelVar: levels,                  // GET/PUT /loglevel
//		Config:   config.Redacted(cfg),    // shown redacted
//		Token:    cfg.AdminToken,          // optional; required off loopback
//	})
//	adm.Add("payments", admin.ReporterFunc(func() any { return payments.Status() }))
//	adminSrv := &http.Server{Addr: "127.0.0.1:9091", Handler: adm, ReadHeaderTimeout: 5 * time.Second}
//	err := lifecycle.Run(ctx, lifecycle.HTTP(publicSrv), lifecycle.HTTP(adminSrv), adm.Run)
//
// The token travels in every request: off loopback, serve the Admin over
// TLS (or through an SSH tunnel or kubectl port-forward). For mTLS instead
// of (or on top of) a token, give the admin server a TLSConfig with
// ClientAuth: tls.RequireAndVerifyClientCert; the Admin needs nothing more.
//
// Leave the admin server's WriteTimeout at zero or above 30s: a CPU profile
// (/debug/pprof/profile?seconds=30) streams for as long as it samples.
//
// # Routes
//
//	GET /                 status page: HTML, refreshing itself, no script
//	GET /status.json      the same data, with the sparklines' history
//	GET /healthz          Checker's report with error texts (404 without Checker)
//	GET /metrics          Config.Metrics (404 without it)
//	GET /debug/pprof/...  profiles and traces, in net/http/pprof's protocol
//	GET, PUT /loglevel    {"level":"INFO"}; PUT {"level":"debug"} changes it
//	GET /buildinfo        runtime/debug build information as JSON
//
// # Reporters
//
// A [Reporter] returns any value that encodes as JSON; the page draws its
// fields in order, arrays of flat objects as tables, state words ("open",
// "down", "closed") in colour, and a sparkline next to every number once
// [Admin.Run] has sampled it a few times. Array elements with a "name",
// "host", "key" or "id" field keep their chart when a top-N list reorders.
// Reporters are called in parallel, bounded by Config.ReportTimeout and
// Config.MaxReportSize; a reporter that panics, hangs or floods shows an
// error in its own section and nothing else.
//
// # Security
//
// Every response carries a Content-Security-Policy that allows no script,
// no external source and no framing; reporter strings are escaped by
// html/template. Without a Token, requests must name an IP address,
// localhost or one of Config.Hosts in their Host header, which defeats DNS
// rebinding from a web page the operator happens to open. The page has no
// forms: the only state change, PUT /loglevel, cannot be sent cross-origin
// by a browser without a CORS preflight, which the Admin never grants.
//
// The profiling routes are written on runtime/pprof rather than imported
// from net/http/pprof, whose init registers them on http.DefaultServeMux:
// importing admin exposes nothing on any other handler. Delta profiles
// (?seconds= on heap, allocs, ...) are not served; take two profiles and
// compare them with go tool pprof -base.
package admin
