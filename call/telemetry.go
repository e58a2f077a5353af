package call

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/semconv/v1.43.0/httpconv"
	"go.opentelemetry.io/otel/trace"
)

const scopeName = "github.com/chassis-go/chassis/call"

// instruments holds the Client's tracer, propagator and instruments, with
// the counters' attribute sets precomputed so that recording allocates
// nothing.
type instruments struct {
	tracer   trace.Tracer
	spanOpts []trace.SpanStartOption
	prop     propagation.TextMapPropagator
	duration metric.Float64Histogram

	retries     metric.Int64Counter
	hedges      metric.Int64Counter
	exhausted   metric.Int64Counter
	transitions metric.Int64Counter
	rejections  metric.Int64Counter

	methodOpts map[string]metric.AddOption // http.request.method
	otherOpt   metric.AddOption            // http.request.method=_OTHER
	stateOpts  [3]metric.AddOption         // chassis.breaker.state, by State
}

func newInstruments(mp metric.MeterProvider, tp trace.TracerProvider, prop propagation.TextMapPropagator) *instruments {
	m := mp.Meter(scopeName)
	fallback := noop.Meter{}
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		if err != nil {
			otel.Handle(err)
			c, _ = fallback.Int64Counter(name)
		}
		return c
	}
	in := &instruments{
		tracer:      tp.Tracer(scopeName),
		spanOpts:    []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)},
		prop:        prop,
		retries:     counter("chassis.call.retries", "{retry}", "Retries sent by call.Client, after the first attempt."),
		hedges:      counter("chassis.call.hedges", "{request}", "Hedged attempts sent by call.Client while an earlier attempt had no response."),
		exhausted:   counter("chassis.call.retry_budget.exhausted", "{retry}", "Retries not sent because the retry budget was spent."),
		transitions: counter("chassis.call.breaker.transitions", "{transition}", "Circuit breaker state changes, by new state."),
		rejections:  counter("chassis.call.breaker.rejections", "{request}", "Attempts rejected by an open circuit breaker."),
		methodOpts:  make(map[string]metric.AddOption),
	}
	if d, err := httpconv.NewClientRequestDuration(m); err == nil {
		in.duration = d.Inst()
	} else {
		otel.Handle(err)
		in.duration, _ = fallback.Float64Histogram("http.client.request.duration")
	}
	for _, m := range knownMethods {
		in.methodOpts[m] = metric.WithAttributeSet(attribute.NewSet(attribute.String("http.request.method", m)))
	}
	in.otherOpt = metric.WithAttributeSet(attribute.NewSet(attribute.String("http.request.method", "_OTHER")))
	for _, s := range []State{StateClosed, StateOpen, StateHalfOpen} {
		in.stateOpts[s] = metric.WithAttributeSet(attribute.NewSet(attribute.String("chassis.breaker.state", s.String())))
	}
	return in
}

var knownMethods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace,
}

// method returns the semantic-conventions form of an HTTP method: known
// methods as is, anything else as "_OTHER" (with ok false).
func method(m string) (string, bool) {
	if m == "" {
		return http.MethodGet, true
	}
	for _, k := range &knownMethods { // by pointer: ranging over the array copies it
		if m == k {
			return m, true
		}
	}
	return "_OTHER", false
}

func (in *instruments) retry(ctx context.Context, m string) {
	opt, ok := in.methodOpts[m]
	if !ok {
		if m == "" {
			opt = in.methodOpts[http.MethodGet]
		} else {
			opt = in.otherOpt
		}
	}
	in.retries.Add(ctx, 1, opt)
}

func (in *instruments) budgetExhausted(ctx context.Context) { in.exhausted.Add(ctx, 1) }

func (in *instruments) hedged(ctx context.Context) { in.hedges.Add(ctx, 1) }

func (in *instruments) breakerRejected(ctx context.Context) { in.rejections.Add(ctx, 1) }

func (in *instruments) breakerTransition(ctx context.Context, to State) {
	in.transitions.Add(ctx, 1, in.stateOpts[to])
}

// needsPropagation reports whether the propagator may have something to
// write for ctx: a span context or baggage. Without either, the request's
// headers need not be copied.
func needsPropagation(ctx context.Context) bool {
	return trace.SpanContextFromContext(ctx).IsValid() || baggage.FromContext(ctx).Len() > 0
}

// attemptTelemetry is the span and timing of one attempt.
type attemptTelemetry struct {
	in    *instruments
	span  trace.Span // nil unless recording
	start time.Time  // zero unless the duration histogram is enabled
}

// startAttempt starts the client span of an attempt (resend is the number
// of earlier attempts) and returns the context carrying it.
func (in *instruments) startAttempt(ctx context.Context, r *http.Request, resend int) (context.Context, attemptTelemetry) {
	at := attemptTelemetry{in: in}
	if in.duration.Enabled(ctx) {
		at.start = time.Now()
	}
	m, known := method(r.Method)
	name := m
	if !known {
		name = "HTTP"
	}
	ctx, span := in.tracer.Start(ctx, name, in.spanOpts...)
	if !span.IsRecording() {
		return ctx, at
	}
	at.span = span
	host, port := hostPort(r.URL)
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs,
		attribute.String("http.request.method", m),
		attribute.String("server.address", host),
		attribute.Int("server.port", port),
		attribute.String("url.full", urlFull(r.URL)),
	)
	if !known {
		attrs = append(attrs, attribute.String("http.request.method_original", r.Method))
	}
	if resend > 0 {
		attrs = append(attrs, attribute.Int("http.request.resend_count", resend))
	}
	span.SetAttributes(attrs...)
	return ctx, at
}

// end records the attempt's outcome (resp or err) in the duration
// histogram and the span; it does not end the span (transport.send or
// attemptBody does).
func (at *attemptTelemetry) end(ctx context.Context, r *http.Request, resp *http.Response, err error) {
	if at.start.IsZero() && at.span == nil {
		return
	}
	var errType string
	status := 0
	if err != nil {
		errType = errorType(err)
	} else {
		status = resp.StatusCode
		if status >= 400 {
			errType = strconv.Itoa(status)
		}
	}
	if !at.start.IsZero() {
		m, _ := method(r.Method)
		host, port := hostPort(r.URL)
		var buf [7]attribute.KeyValue
		attrs := append(buf[:0],
			attribute.String("http.request.method", m),
			attribute.String("server.address", host),
			attribute.Int("server.port", port),
			attribute.String("url.scheme", r.URL.Scheme),
		)
		if status != 0 {
			attrs = append(attrs, attribute.Int("http.response.status_code", status),
				attribute.String("network.protocol.version", protoVersion(resp)))
		}
		if errType != "" {
			attrs = append(attrs, attribute.String("error.type", errType))
		}
		at.in.duration.Record(ctx, time.Since(at.start).Seconds(), metric.WithAttributes(attrs...))
	}
	if at.span == nil {
		return
	}
	if status != 0 {
		at.span.SetAttributes(attribute.Int("http.response.status_code", status),
			attribute.String("network.protocol.version", protoVersion(resp)))
	}
	if errType != "" {
		at.span.SetAttributes(attribute.String("error.type", errType))
		desc := ""
		if err != nil {
			desc = err.Error()
		}
		at.span.SetStatus(codes.Error, desc)
	}
}

// errorType is the low-cardinality error.type of a failed attempt.
func errorType(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrAttemptTimeout):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	if t := fmt.Sprintf("%T", err); t != "*errors.errorString" {
		return t
	}
	return "_OTHER"
}

func protoVersion(resp *http.Response) string {
	switch {
	case resp.ProtoMajor == 1 && resp.ProtoMinor == 1:
		return "1.1"
	case resp.ProtoMajor == 2:
		return "2"
	case resp.ProtoMajor == 1 && resp.ProtoMinor == 0:
		return "1.0"
	case resp.ProtoMajor == 3:
		return "3"
	}
	return strconv.Itoa(resp.ProtoMajor) + "." + strconv.Itoa(resp.ProtoMinor)
}

// hostPort returns the server.address and server.port of u, the port
// defaulting from the scheme.
func hostPort(u *url.URL) (string, int) {
	host := u.Hostname()
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			return host, n
		}
	}
	if u.Scheme == "https" {
		return host, 443
	}
	return host, 80
}

// urlFull is the url.full of u without credentials, query string or
// fragment: only scheme, host and path are recorded.
func urlFull(u *url.URL) string {
	if u.Opaque != "" {
		return u.Scheme + "://" + u.Host // opaque paths may hide anything
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}
