package httpkit

import (
	"maps"
	"net/http"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/chassis-go/chassis/internal/reqmeta"
)

// TracingOption configures [Tracing].
type TracingOption func(*tracingConfig)

type tracingConfig struct {
	tp         trace.TracerProvider
	mp         metric.MeterProvider
	prop       propagation.TextMapPropagator
	filter     func(*http.Request) bool
	serverName string
}

// WithTracerProvider sets the provider of the tracer Tracing starts server
// spans with. Without it, Tracing uses the provider of the span already in
// the request context if there is one, else the global provider
// (otel.GetTracerProvider) at the time of the request, as otelhttp does.
func WithTracerProvider(tp trace.TracerProvider) TracingOption {
	return func(c *tracingConfig) { c.tp = tp }
}

// WithMeterProvider sets the provider of the meter that records
// http.server.request.duration and the body size histograms. Without it,
// Tracing uses the global provider (otel.GetMeterProvider) as of the call to
// Tracing.
func WithMeterProvider(mp metric.MeterProvider) TracingOption {
	return func(c *tracingConfig) { c.mp = mp }
}

// WithPropagators sets how the parent span context is extracted from
// request headers. Without it, Tracing uses the global propagator
// (otel.GetTextMapPropagator) as of the call to Tracing.
func WithPropagators(p propagation.TextMapPropagator) TracingOption {
	return func(c *tracingConfig) { c.prop = p }
}

// WithServerName sets the server.address attribute of the HTTP server
// metrics, for example the service's public host name. Without it the
// metrics carry an empty server.address. The request's Host header never
// becomes a metric attribute: it is chosen by the client, and a client
// sending many distinct Host values would otherwise create a metric series
// for each. Spans, which are not aggregated, keep the Host they arrived
// with.
func WithServerName(name string) TracingOption {
	return func(c *tracingConfig) { c.serverName = name }
}

// WithTracingFilter makes Tracing skip requests for which keep returns
// false (health checks, for example): they get neither span nor metrics,
// and next sees the request unchanged.
func WithTracingFilter(keep func(*http.Request) bool) TracingOption {
	return func(c *tracingConfig) { c.filter = keep }
}

// Tracing returns middleware, built on otelhttp, that runs each request in a
// server span and records the OpenTelemetry HTTP server metrics
// (http.server.request.duration and the request and response body sizes),
// following the semantic conventions:
//
//   - The span is named "{method} {route}", for example "GET /users/{id}",
//     from the ServeMux pattern that matched (Request.Pattern, set only once
//     the mux has routed, so the span is renamed after next returns; a
//     pattern's method and host are dropped: "GET example.com/users/{id}"
//     gives route "/users/{id}"), and the span and the metrics get the
//     http.route attribute. With no route the name is the method alone;
//     a method outside the standard nine becomes "HTTP". Raw paths never
//     name a span, so span names stay low-cardinality.
//   - A status of 500 or more marks the span as an error; 4xx does not (the
//     server did its job). A panic in next marks it as an error too, and
//     the span ends before the panic continues.
//   - The query string is never recorded: otelhttp records url.path and
//     url.scheme but not url.query or url.full.
//   - The parent is extracted from the request headers with the configured
//     propagators, so a caller can choose the trace id. A public-facing
//     service that must not trust callers passes
//     WithPropagators(propagation.NewCompositeTextMapPropagator()), which
//     extracts nothing.
//
// The route is found even when the mux sits behind other middleware that
// replace the request, provided one of this package's middleware sits
// between them and the mux. next receives a request whose context carries
// the span; the ResponseWriter is wrapped by otelhttp (httpsnoop), which
// keeps Flush, Hijack, ReadFrom and Unwrap. Tracing uses the OpenTelemetry
// API only: without providers installed it costs little and records
// nothing.
func Tracing(opts ...TracingOption) func(http.Handler) http.Handler {
	var cfg tracingConfig
	names := new(spanNames)
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	oopts := []otelhttp.Option{
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return names.get(r.Method, reqmeta.Route(reqmeta.Pattern(r))).name
		}),
	}
	if cfg.tp != nil {
		oopts = append(oopts, otelhttp.WithTracerProvider(cfg.tp))
	}
	if cfg.mp != nil {
		oopts = append(oopts, otelhttp.WithMeterProvider(cfg.mp))
	}
	if cfg.prop != nil {
		oopts = append(oopts, otelhttp.WithPropagators(cfg.prop))
	}
	otelMW := otelhttp.NewMiddleware("", oopts...)

	return func(next http.Handler) http.Handler {
		h := otelMW(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			completed := false
			defer func() {
				span := trace.SpanFromContext(r.Context())
				reqmeta.Publish(r)
				pattern := reqmeta.Pattern(r)
				if rt := reqmeta.Route(pattern); rt != "" {
					n := names.get(r.Method, rt)
					span.SetName(n.name)
					span.SetAttributes(n.attrs...)
				}
				// r is otelhttp's copy of the request, which it reads for the
				// metric attributes once this returns: give it the most
				// specific route (a root mux in front of this middleware set
				// "/" on it) and the configured server name instead of the
				// client's Host.
				r.Pattern = pattern
				r.Host = cfg.serverName
				if !completed {
					span.SetStatus(codes.Error, "handler panicked")
				}
			}()
			next.ServeHTTP(w, r)
			completed = true
		}))
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if cfg.filter != nil && !cfg.filter(r) {
				next.ServeHTTP(w, r)
				return
			}
			r, _ = reqmeta.Ensure(r)
			h.ServeHTTP(w, r)
		})
	}
}

// spanNames caches the span name and the http.route attribute of each
// (method, route) pair seen, so that naming a span allocates nothing once its
// route is known. Routes come from ServeMux patterns, so the pairs are few;
// past maxSpanNames entries, names are built per request instead of cached.
type spanNames struct {
	m  atomic.Pointer[map[routeKey]*routeName] // copied on write
	mu sync.Mutex
}

const maxSpanNames = 1024

type routeKey struct{ method, route string }

type routeName struct {
	name  string
	attrs []attribute.KeyValue // http.route, if the route is not empty
}

func (c *spanNames) get(method, route string) *routeName {
	method = spanMethod(method) // a client's own methods do not add entries
	k := routeKey{method, route}
	if m := c.m.Load(); m != nil {
		if n, ok := (*m)[k]; ok {
			return n
		}
	}
	n := &routeName{name: spanName(method, route)}
	if route != "" {
		n.attrs = []attribute.KeyValue{attribute.String("http.route", route)}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil && len(*old) >= maxSpanNames {
		return n
	}
	m := make(map[routeKey]*routeName, 1+lenOf(old))
	if old != nil {
		maps.Copy(m, *old)
	}
	m[k] = n
	c.m.Store(&m)
	return n
}

func lenOf(m *map[routeKey]*routeName) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// spanName is the semantic-convention server span name.
func spanName(method, route string) string {
	method = spanMethod(method)
	if route == "" {
		return method
	}
	return method + " " + route
}

// spanMethod returns method if it is one of the nine standard methods, else
// "HTTP".
func spanMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "HTTP"
}
