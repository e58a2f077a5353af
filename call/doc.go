// Package call provides a resilient outbound HTTP client: per-attempt
// timeouts, safe retries under a retry budget, per-host circuit breakers,
// cached bearer tokens and OpenTelemetry client spans and metrics.
// Most callers need only [New] and [Client.Do]; SDKs that take an
// *http.Client get the same policies through [Client.HTTPClient]:
//
//	c := call.New(
//		call.WithTimeout(2*time.Second),
//		call.WithRetry(call.RetryPolicy{MaxAttempts: 4}),
//		call.WithBreaker(call.BreakerPolicy{}), // zero fields: defaults
//	)
//	defer c.CloseIdleConnections()
//	req, _ := http.NewRequestWithContext(ctx, "GET", "https://api.example.com/v1/items", nil)
//	resp, err := c.Do(req)
//	if errors.Is(err, call.ErrCircuitOpen) { ... } // failed fast, nothing sent
//
// # Options
//
// A nil [Option] is ignored, so options can be chosen conditionally, and a
// nil value given to an option means its default: WithClock(nil) is
// [time.Now], WithTransport(nil) the Client's own clone of
// [http.DefaultTransport], WithTokenSource(nil) no token, and nil
// providers and propagators OpenTelemetry's global ones. An invalid value
// (a negative timeout, a policy field out of range) panics in the option,
// with a message that names the field and the fix.
//
// # Composition order
//
// The policies apply outermost first, as
//
//	Retry(Budget(Hedge(Breaker(Overload(Token(PerAttemptTimeout(Tracing(transport))))))))
//
// so each call to Do runs the retry loop; each retry must first get room
// in the retry budget; with [WithHedge], each try may send hedges, which
// spend the same budget; each attempt, the first included, asks the host's
// breaker before anything else, so an open breaker fails fast without
// fetching a token or touching the network; with [WithOverload], the
// attempt then takes a unit of the host's adaptive concurrency limit, and a
// refusal fails the call at once (matching overload.ErrOverloaded), is not
// retried and never trips the breaker; the token is then fetched (or
// taken from the cache) under the caller's context; the attempt gets its
// own deadline ([WithTimeout]); and the client span wraps exactly one
// attempt. A per-attempt timeout is therefore a breaker failure, and a
// retry is a new span with http.request.resend_count set. The per-host
// limiters report metrics through callbacks: [Client.Close] unregisters
// them when a Client is discarded before the program ends.
// Redirects are followed by the http.Client above all this, each hop being
// one call of the stack.
//
// # Timeouts
//
// There is exactly one deadline per attempt, the per-attempt timeout, and
// the request's context bounds the whole call, retries and backoff waits
// included; http.Client.Timeout stays 0. A response body stays readable
// until the per-attempt deadline or Close, and reading it to EOF or closing
// it releases the attempt's timer. No backoff wait starts that would end
// after the context's deadline: the last response or error is returned at
// once instead.
//
// # Retries
//
// Only what is safe is retried ([RetryPolicy] has the full list): idempotent
// methods, or requests with an Idempotency-Key header, whose body can be
// replayed through GetBody; after errors before any response, 502, 503, 504,
// and 429 with Retry-After. Backoff is exponential with full jitter.
// Retry-After is honoured up to [RetryPolicy.MaxRetryAfter]; a server asking
// for more gets its response returned to the caller rather than parking the
// client. A [RetryBudget] bounds retries to a share of recent requests, so
// that a failing dependency does not get MaxAttempts times its traffic; it
// is a [retry.Budget], which may be shared with the other clients of the
// same dependency ([RetryBudget.Shared]). Packages [retry] and [breaker]
// offer the same policies around calls that are not HTTP.
//
// # Hedging
//
// With [WithHedge], an attempt that has had no response for
// [HedgePolicy.Delay] is hedged: the same request is sent again, the first
// response wins, and the losers are cancelled and closed before Do
// returns. Only requests that could be retried are hedged, every hedge
// spends the retry budget, and no hedge is sent while the host's breaker
// is not closed, so hedging trims tail latency without multiplying the
// load on a dependency that is slow for everyone.
//
// # Circuit breakers
//
// With [WithBreaker], the Client keeps one [breaker.Breaker] per destination host,
// created on demand and bounded in number ([BreakerPolicy.MaxHosts]). The
// caller's own cancellation never counts as a failure; a per-attempt
// timeout does. [BreakerPolicy.OnStateChange] is called after the breaker's
// lock is released.
//
// # Telemetry
//
// Each attempt is a client span named after the method and an
// http.client.request.duration measurement, with the attributes of the
// OpenTelemetry HTTP client semantic conventions (http.request.method,
// server.address, server.port, url.full, http.response.status_code,
// error.type, network.protocol.version; url.scheme on the metric). url.full
// is recorded without query string, fragment or credentials, and no URL is
// a metric attribute. The span ends when the response body is read to EOF
// or closed. The trace context is written into a copy of the request's
// headers, never into the caller's; that copy is skipped when there is
// nothing to propagate (no span context, no baggage), as when no
// OpenTelemetry SDK is installed. Attributes are computed only for
// recording spans and enabled instruments. The Client also counts, with the
// meter and tracer named after this package's import path:
//
//	chassis.call.retries                 {retry}       http.request.method
//	chassis.call.hedges                  {request}
//	chassis.call.retry_budget.exhausted  {retry}
//	chassis.call.breaker.transitions     {transition}  chassis.breaker.state (the new state)
//	chassis.call.breaker.rejections      {request}
package call
