// Package health runs named dependency checks and serves them as liveness
// and readiness probes. Most services need [New], [Checker.Add] for each
// dependency, and the two handlers:
//
//	checker := health.New(health.CacheTTL(time.Second))
//	checker.Add("postgres", health.SQLPing(db))
//	checker.Add("search", health.HTTPGet(nil, "http://search:9200/_cluster/health"), health.Timeout(500*time.Millisecond))
//	checker.Add("cache", health.TCPDial("redis:6379"), health.NonCritical())
//	mux.Handle("GET /livez", checker.LiveHandler())
//	mux.Handle("GET /readyz", checker.ReadyHandler())
//
// # Liveness and readiness
//
// Liveness answers "should this process be restarted?": [Checker.LiveHandler]
// runs no checks and answers 200 as long as the process serves HTTP.
// Readiness answers "should this process get traffic?":
// [Checker.ReadyHandler] runs the checks and answers 200 when every critical
// check is up and 503 otherwise, with a JSON report of every check. Checks
// marked [NonCritical] are reported but never make the service unready.
// The report names each failed check but says only "check failed" about it,
// because readiness endpoints are usually reachable without authentication
// and error texts name internal hosts; a handler built with [ShowErrors], on
// a listener only operators reach, shows the (bounded) error texts.
//
// # Running checks
//
// [Checker.Run] runs all checks in parallel, each under its own timeout
// ([DefaultTimeout], 2s, unless [Timeout] or [DefaultCheckTimeout] says
// otherwise). A check that fails, times out or panics is down; none of these
// can crash the process or block a probe past the check's timeout. Probes
// that arrive while a run is in progress share it, and [CacheTTL] reuses a
// finished run for a while, so any number of probes cost the dependencies at
// most one run per TTL. Other code (grpckit's health service, for example)
// polls the same [Report] through [Checker.Run].
//
// # Shutdown
//
// [Checker.SetDraining] turns readiness to 503 at once while liveness stays
// 200, so that load balancers stop routing to the process before its server
// stops accepting connections. With package lifecycle:
//
//	lifecycle.HTTP(srv, lifecycle.BeforeShutdown(checker.SetDraining), lifecycle.DrainDelay(5*time.Second))
//
// # Telemetry
//
// Every finished check run is recorded in the chassis.health.check.duration
// histogram (seconds) with the attributes chassis.check (the check's name)
// and chassis.check.status ("up" or "down"). Checks skipped with
// [ErrStillRunning] are not recorded.
package health
