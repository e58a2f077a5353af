package call

import (
	"context"
	"net/http"
	"time"

	"github.com/chassis-go/chassis/internal/ctxsleep"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// DefaultTimeout is the per-attempt timeout of a Client built without
// [WithTimeout].
const DefaultTimeout = 30 * time.Second

// Client sends HTTP requests with the retry, retry budget, circuit breaker,
// token and per-attempt timeout policies it was built with (see the package
// documentation for the order in which they apply).
//
// Build one with [New]; the zero Client is not usable. A Client is safe for
// concurrent use and meant to be long-lived: its breakers, retry budget,
// token cache and connection pool are its own and are shared by every
// request it sends. Call [Client.CloseIdleConnections] when it is no longer
// needed.
type Client struct {
	rt *transport
	hc *http.Client
}

// Option configures a [Client] built by [New]. A nil Option is ignored, and
// a nil value given to an option (a nil clock, transport, token source or
// provider) means that option's default.
type Option func(*options)

type options struct {
	timeout    time.Duration
	retry      RetryPolicy
	budget     RetryBudget
	breaker    *BreakerPolicy
	overload   *OverloadPolicy
	tokens     TokenSource
	base       http.RoundTripper
	now        func() time.Time
	mp         metric.MeterProvider
	tp         trace.TracerProvider
	prop       propagation.TextMapPropagator
	sleep      func(ctx context.Context, d time.Duration) error // test hook
	jitter     func(n int64) int64                              // test hook
	tokenHook  func()                                           // test hook: tokenCache.beforeFlight
	hedge      *HedgePolicy
	hedgeAfter func(d time.Duration) <-chan time.Time // test hook
	hasTimeout bool
}

// WithTimeout sets the timeout of each attempt, from sending the request
// until its response body is read to EOF or closed. Retries get a fresh
// timeout each. An attempt that times out counts as a failure for the
// breaker and, before any response arrived, may be retried; the error then
// matches [ErrAttemptTimeout] and [context.DeadlineExceeded].
//
// Without this option the timeout is [DefaultTimeout]. Zero disables the
// per-attempt timeout, leaving the request's context as the only bound.
// Set it long enough to read the largest expected body, or read streaming
// bodies through a Client built with WithTimeout(0) and a context deadline.
// Panics if perAttempt is negative.
func WithTimeout(perAttempt time.Duration) Option {
	if perAttempt < 0 {
		panic("call.WithTimeout: perAttempt is negative; use 0 to disable the per-attempt timeout")
	}
	return func(o *options) { o.timeout = perAttempt; o.hasTimeout = true }
}

// WithRetry sets the retry policy; zero fields take the defaults documented
// on [RetryPolicy]. Without this option a Client retries with the zero
// RetryPolicy (3 attempts); WithRetry(RetryPolicy{MaxAttempts: 1}) disables
// retries. Panics if p is invalid (see RetryPolicy).
func WithRetry(p RetryPolicy) Option {
	p.validate()
	return func(o *options) { o.retry = p }
}

// WithRetryBudget sets the retry budget; zero fields take the defaults
// documented on [RetryBudget]. Without this option a Client that retries
// uses the zero RetryBudget. Panics if b is invalid (see RetryBudget).
func WithRetryBudget(b RetryBudget) Option {
	b.validate()
	return func(o *options) { o.budget = b }
}

// WithBreaker gives the Client one circuit breaker per destination host,
// configured by p; zero fields take the defaults documented on
// [BreakerPolicy]. Without this option a Client has no breakers.
// Panics if p is invalid (see BreakerPolicy).
func WithBreaker(p BreakerPolicy) Option {
	p.validate()
	return func(o *options) { o.breaker = &p }
}

// WithTokenSource makes the Client send "Authorization: Bearer <token>"
// with tokens from ts, cached and refreshed ahead of expiry (see
// [TokenSource] for the caching contract). The header is added to a copy
// of the request, never to the caller's request, and only when the request
// has no Authorization header of its own and, after a redirect, only if the
// redirect stayed on the original scheme and host. A nil ts, like omitting
// the option, sends no token.
func WithTokenSource(ts TokenSource) Option {
	return func(o *options) { o.tokens = ts }
}

// WithTransport sets the base transport that performs each attempt. Without
// this option the Client uses its own clone of [http.DefaultTransport], so
// its connection pool is not shared with other clients; a nil rt means the
// same.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) { o.base = rt }
}

// WithClock sets the clock used by breakers (open timeouts, failure-ratio
// windows), the retry budget window, Retry-After dates and token expiry.
// Without this option, or with a nil now, the Client uses [time.Now].
// Backoff waits and context deadlines always use real time.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithMeterProvider sets the meter provider for the chassis.call.* counters
// and the http.client.request.duration histogram. Without this option, or
// with a nil mp, the Client uses [otel.GetMeterProvider] as of [New].
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.mp = mp }
}

// WithTracerProvider sets the tracer provider for the client span of each
// attempt. Without this option, or with a nil tp, the Client uses
// [otel.GetTracerProvider] as of [New].
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tp = tp }
}

// WithPropagators sets the propagator that writes the trace context (and
// baggage) of each attempt into the headers of the request sent. Without
// this option, or with a nil p, the Client uses [otel.GetTextMapPropagator],
// which propagates nothing until the program installs a propagator.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(o *options) { o.prop = p }
}

// New returns a Client configured by opts. With no options it has a 30s
// per-attempt timeout, retries idempotent requests up to 3 attempts within
// the default retry budget, sends no token, has no circuit breakers, and
// records spans and metrics, and propagates trace context, through the
// global OpenTelemetry providers and propagator.
//
// A nil Option is ignored, so options can be chosen conditionally. The
// options panic when given an invalid value (each documents when).
func New(opts ...Option) *Client {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.mp == nil {
		o.mp = otel.GetMeterProvider()
	}
	if o.tp == nil {
		o.tp = otel.GetTracerProvider()
	}
	if o.prop == nil {
		o.prop = otel.GetTextMapPropagator()
	}
	if o.base == nil {
		o.base = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.sleep == nil {
		o.sleep = ctxsleep.Sleep
	}
	t := newTransport(&o)
	return &Client{rt: t, hc: &http.Client{Transport: t}}
}

func newTransport(o *options) *transport {
	t := &transport{
		base:    o.base,
		timeout: o.timeout,
		now:     o.now,
		sleep:   o.sleep,
		tel:     newInstruments(o.mp, o.tp, o.prop),
	}
	if o.timeout > 0 {
		t.timeoutCause = &attemptTimeoutError{d: o.timeout}
	}
	t.retry = newRetryer(o.retry, o.jitter)
	if t.retry.maxAttempts > 1 || o.hedge != nil {
		t.budget = newBudget(o.budget, o.now) // hedges spend it too
	}
	t.hedge, t.hedgeAfter = o.hedge, o.hedgeAfter
	if o.breaker != nil {
		t.breakers = newBreakerSet(*o.breaker, o.now, t.tel)
	}
	if o.overload != nil {
		t.limiters = newLimiterSet(*o.overload, o)
	}
	if o.tokens != nil {
		t.tokens = newTokenCache(o.tokens, o.now)
		t.tokens.beforeFlight = o.tokenHook
	}
	return t
}

// Do sends req with the Client's policies and returns the response of the
// last attempt, following redirects like [http.Client.Do] (each hop gets the
// policies on its own). On success the caller must close the response body;
// reading it to EOF or closing it releases the attempt's timer and its
// connection.
//
// req's context bounds the whole call, retries and backoff waits included:
// when it ends, Do returns its error, and no backoff wait starts that would
// outlast its deadline (the last response or error is returned at once
// instead). req and its header map are never modified, so one request may
// be sent from many goroutines at once, as long as it has no body or its
// body is replayable through GetBody.
//
// Do runs on the calling goroutine, except for hedged attempts
// ([WithHedge]), each of which runs on a goroutine of its own; Do returns
// only after all of them have returned, the losers having been cancelled.
// A panic in the base transport or in a policy hook is not recovered: it
// goes on to the caller (from a hedged attempt, it is raised again on the
// caller's goroutine), after the attempt's breaker slot, timer and span
// have been released.
//
// A request rejected by an open breaker fails with an error matching
// [ErrCircuitOpen] without reaching the network or the token source. Errors
// are *[net/url.Error] values, as from http.Client, wrapping the cause.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	return c.hc.Do(req)
}

// HTTPClient returns a new *http.Client whose Transport applies the same
// policies, breakers, budget and token cache as c, for SDKs that take an
// *http.Client. Its Timeout is 0 (the per-attempt timeout lives in the
// transport); callers may set its Jar or CheckRedirect without affecting c.
func (c *Client) HTTPClient() *http.Client {
	return &http.Client{Transport: c.rt}
}

// Transport returns the http.RoundTripper that applies c's policies; it is
// what [Client.HTTPClient] uses. Its RoundTrip does not follow redirects.
func (c *Client) Transport() http.RoundTripper { return c.rt }

// CloseIdleConnections closes the idle connections of the base transport,
// if it has a CloseIdleConnections method. It does not interrupt requests
// in flight.
func (c *Client) CloseIdleConnections() { c.rt.CloseIdleConnections() }

// Close releases what c registers outside itself: the metric callbacks
// of its per-host overload limiters ([WithOverload]), which would
// otherwise keep c reachable from the MeterProvider and be collected
// forever, and the base transport's idle connections. Call it when a
// Client built with WithOverload is no longer needed before the program
// ends, for instance one built per tenant or per test.
//
// Close does not interrupt requests in flight, and c keeps working after
// it: the limiters keep limiting, but no longer report metrics, and
// limiters for new hosts are made without metrics. Close may be called
// more than once; it always returns nil (an unregistration error goes to
// otel.Handle).
func (c *Client) Close() error {
	if c.rt.limiters != nil {
		c.rt.limiters.close()
	}
	c.rt.CloseIdleConnections()
	return nil
}

// Breakers reports how many per-host breakers c currently holds; it never
// exceeds [BreakerPolicy.MaxHosts]. It is 0 for a Client without breakers.
func (c *Client) Breakers() int {
	if c.rt.breakers == nil {
		return 0
	}
	return c.rt.breakers.len()
}

// BreakerState reports the state of the breaker for host (as in
// URL.Host, compared case-insensitively). It is [StateClosed] for a host
// without a breaker and for a Client without breakers. It may be called
// from [BreakerPolicy.OnStateChange].
func (c *Client) BreakerState(host string) State {
	if c.rt.breakers == nil {
		return StateClosed
	}
	return c.rt.breakers.state(host)
}
