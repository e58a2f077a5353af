// Package guard provides server-side HTTP middleware that protects a service
// from its clients: rate limiting by client key, load shedding for the sum of
// all clients, and bounds on request bodies, handler time, cross-origin
// access, response hardening and client networks.
// Most services need [RateLimit] with a [MemoryLimiter] (or a
// guard/redislimit Limiter when several replicas share one limit) and a key
// function such as [ClientIP].
//
//	limiter := guard.NewMemoryLimiter(guard.PerMinute(100)) // 100/min per client, bursts of 100
//	limit := guard.RateLimit(guard.RateLimitConfig{
//		Limiter: limiter,
//		Key:     guard.ClientIP(netip.MustParsePrefix("10.0.0.0/8")), // behind your load balancer
//		Exempt:  func(r *http.Request) bool { return r.URL.Path == "/readyz" },
//	})
//	srv := &http.Server{Handler: limit(mux)}
//
// # Rate limiting
//
// A [Limiter] answers one question, Allow(ctx, key), with a [Decision]: is the
// event admitted, how much of the [Limit] remains, and how long to wait. Every
// chassis limiter runs the same algorithm, GCRA, which stores a single
// timestamp per key and admits Limit.Burst events at once, then Limit.Rate
// events per Limit.Per. [MemoryLimiter] keeps that state in process memory
// with a hard cap on the number of keys (MaxKeys, 100,000 by default) and an
// eviction rule that a flood of random keys cannot turn into a bypass; its
// doc comment states the guarantee.
//
// [RateLimit] turns decisions into HTTP: allowed responses carry the IETF
// RateLimit and RateLimit-Policy headers, denied requests get a 429
// problem+json response with Retry-After, and a limiter that fails (Redis
// down) fails open or closed as configured.
//
// # Load shedding
//
// Per-key rate limits stop one greedy client, not the sum of all of them.
// [Shed] bounds that sum: an adaptive concurrency limit (package overload)
// admits what the service can finish and answers the rest at once with a
// 503 problem and Retry-After, shedding Sheddable requests before Default
// before Critical; probes and /metrics are exempted by configuration.
//
// # Client keys
//
// A [KeyFunc] names the client a request counts against. [RemoteIP] uses the
// direct peer's address; [ClientIP] also reads X-Forwarded-For, but only from
// proxies you trust, so clients cannot choose their own key; [IPv6Prefix]
// groups IPv6 clients by subnet; [Header] uses a header that an
// authenticating proxy sets.
//
// # Timeouts
//
// [Timeout] gives each request's handler a deadline without buffering the
// response: bytes stream to the client as written, so memory does not grow
// with response size and Flush, Hijack and the ResponseController methods keep
// working (SSE is fine). If the deadline passes before anything was written,
// the client gets a 504 problem response at once and the handler's later
// writes fail with http.ErrHandlerTimeout. If it passes after the response
// started, Timeout aborts the connection or stream, so a truncated response
// never looks complete. A handler that ignores its context keeps running
// after Timeout returns; such overruns (handlers still running a second
// after their deadline) are counted. A response whose declared
// Content-Length was fully written is never aborted; an HTTP/1.0 body
// without Content-Length is ended with a TCP reset, so that it cannot read
// as complete.
//
// # Bodies, origins, headers and networks
//
// [MaxBody] caps request bodies: a declared Content-Length over the cap gets
// 413 before the handler runs, and a chunked body that exceeds it while being
// read turns the handler's response into a 413, provided it had not started
// writing.
//
// [CORS] applies a cross-origin policy built on github.com/rs/cors, validated
// when it is built: an empty origin list, credentials combined with "*" or
// "null", malformed origins and a negative MaxAge all panic. Every response
// varies on Origin.
//
// [SecurityHeaders] sets hardening headers on every response;
// [DefaultSecurityHeaders] returns a fresh API-oriented config. HSTS is sent
// only on TLS requests, or through a proxy trusted by TrustForwardedProto,
// never because of a client-supplied header.
//
// [IPFilter] admits or refuses requests by the client address from a
// [KeyFunc]. Deny wins over Allow; an empty Allow admits everything not
// denied; refused requests, keys that are not IP addresses and key errors get
// a 403 problem response.
//
// # Order
//
// The order of guard's middleware among httpkit's is stated, with its
// reasons, in one place: the httpkit package documentation ("Middleware
// order"). In short, IPFilter, SecurityHeaders and CORS go outside the
// others, because an error response carries only the headers set by
// middleware mounted outside the one that rejected the request; then
// RateLimit, Shed, MaxBody and Timeout.
//
// # Options
//
// Dependencies are options named after them: [WithLogger] (Timeout),
// [WithMeterProvider] (Timeout, MaxBody, NewMemoryLimiter), [WithClock]
// (NewMemoryLimiter). Policy is a positional parameter or a config field
// ([MaxKeys]; RateLimitConfig and IPFilterConfig keep their Logger and
// MeterProvider fields). Options of one constructor do not compile with
// another. A nil option is ignored; a nil value means the default.
//
// # Metrics
//
// Through the OpenTelemetry metric API (a no-op until the application
// installs a MeterProvider), under the instrumentation scope
// github.com/chassis-go/chassis/guard: rate limiting reports
// chassis.ratelimit.decisions and chassis.ratelimit.keys, Timeout
// chassis.timeout.expired and chassis.timeout.overruns, and IPFilter and
// MaxBody chassis.guard.rejections. Attributes never include client keys or
// addresses.
package guard
