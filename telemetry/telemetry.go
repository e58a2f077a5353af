package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Config holds what the program knows about itself. The zero Config is valid:
// every field is a default that the OTEL_* environment variables override
// (see the package documentation for the precedence).
//
// Config has no environment lookup hook on purpose: the exporters, the
// batch span processor and the sampler read the process environment
// themselves, so a partial hook would make Init disagree with them. Tests
// set variables with testing.T.Setenv.
type Config struct {
	// ServiceName is the service.name resource attribute unless
	// OTEL_SERVICE_NAME or service.name in OTEL_RESOURCE_ATTRIBUTES is set
	// (OTEL_SERVICE_NAME wins over both). Empty means
	// "unknown_service:<executable name>", as the specification requires.
	ServiceName string

	// ServiceVersion is the service.version resource attribute unless
	// OTEL_RESOURCE_ATTRIBUTES sets it. Empty means no service.version.
	ServiceVersion string

	// Attributes are further resource attributes, such as
	// deployment.environment.name. OTEL_RESOURCE_ATTRIBUTES overrides a key
	// set here; service.name and service.version here override ServiceName
	// and ServiceVersion. Nil means none. Init does not retain the slice.
	Attributes []attribute.KeyValue

	// Logger receives the errors OpenTelemetry reports through otel.Handle
	// (failed exports, dropped spans, invalid instrument names), each as one
	// ERROR record with the message "opentelemetry error" and the error
	// under "err", instead of OTel's default: a plain-text line on stderr
	// that breaks a JSON log. Nil means slog.Default() at the time of Init.
	//
	// Init installs the handler with otel.SetErrorHandler. Shutdown puts the
	// previous handler back, unless another has been installed since (by a
	// later Init, say); errors that still reach this Provider's handler
	// afterwards are printed with the log package, as OTel's default does.
	Logger *slog.Logger
}

// Provider is the telemetry pipeline Init built and installed. It holds the
// SDK tracer and meter providers and, when metrics are served for
// Prometheus, the handler for them.
//
// A Provider is safe for concurrent use. It cannot be restarted: after
// Shutdown, call Init again for a new one. The zero Provider has no
// pipeline: its providers are no-ops, its MetricsHandler answers 404 and
// its Shutdown returns nil.
type Provider struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	prometheus     http.Handler // nil when metrics are not served over HTTP
	notServed      string       // why, for the 404 detail

	// flushers are run concurrently by Shutdown, each under the caller's ctx.
	flushers []func(context.Context) error

	shutdownOnce sync.Once
	shutdownErr  error
	stopped      atomic.Bool

	// errHandler is installed by Init; prevErrHandler is what it replaced.
	errHandler     *errorLogger
	prevErrHandler otel.ErrorHandler
}

// errorLogger is the otel.ErrorHandler Init installs.
type errorLogger struct {
	logger *slog.Logger
	off    atomic.Bool // set by Shutdown
}

// Handle logs err. After Shutdown it prints err with the log package, as
// OTel's default handler does: OTel's default handler forwards to the
// first handler ever installed, which may be this one, so handing err back
// to the previous handler could loop.
func (h *errorLogger) Handle(err error) {
	if h.off.Load() {
		log.Print(err)
		return
	}
	h.logger.Error("opentelemetry error", "err", err)
}

// cleanupTimeout bounds the shutdown of exporters that Init built before a
// later step failed. They have exported nothing, so this is generous.
const cleanupTimeout = 5 * time.Second

// Init builds the tracer and meter providers described by the OTEL_*
// environment variables and cfg, installs them as the global providers
// (otel.SetTracerProvider, otel.SetMeterProvider) together with the text
// map propagator (W3C tracecontext and baggage unless OTEL_PROPAGATORS says
// otherwise), and returns them as a *Provider.
//
// Init is meant to be called once, from main, before the components that
// record telemetry are built; chassis packages capture
// otel.GetMeterProvider() when they are constructed. Calling Init again
// replaces the globals; the earlier Provider keeps running until its
// Shutdown is called.
//
// With no OTEL_* variables set nothing leaves the process: spans are
// created but not exported, and metrics are served by
// [Provider.MetricsHandler]. With OTEL_SDK_DISABLED=true Init installs
// no-op providers and builds no exporter.
//
// Init returns an *EnvError for an OTEL_* value it cannot use, such as
// OTEL_TRACES_EXPORTER=bogus, and ctx.Err() if ctx is already done. On error
// it has changed no global and shut down whatever it had built, so no
// goroutine or connection is left behind. ctx is passed to the exporter
// constructors; none of them connects or blocks, so a collector that is
// down does not delay Init (exports fail later and are reported through
// otel.Handle).
func Init(ctx context.Context, cfg Config) (*Provider, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	props, err := parsePropagators(os.Getenv(envPropagators))
	if err != nil {
		return nil, err
	}
	if sdkDisabled() {
		p := &Provider{
			tracerProvider: tracenoop.NewTracerProvider(),
			meterProvider:  metricnoop.NewMeterProvider(),
			notServed:      "telemetry is disabled (OTEL_SDK_DISABLED=true)",
		}
		install(p, props, cfg.Logger)
		return p, nil
	}
	if err := checkSampler(os.Getenv(envTracesSampler), os.Getenv(envTracesSamplerArg)); err != nil {
		return nil, err
	}
	if err := checkEndpoints(); err != nil {
		return nil, err
	}
	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	spanExp, err := newSpanExporter(ctx)
	if err != nil {
		return nil, err
	}
	reader, promHandler, err := newMetricReader(ctx)
	if err != nil {
		if spanExp != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancel()
			err = errors.Join(err, spanExp.Shutdown(cctx))
		}
		return nil, err
	}

	// Nothing below can fail.
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	var abortable *abortableExporter
	if spanExp != nil {
		abortable = newAbortableExporter(spanExp)
		// The batcher reads OTEL_BSP_*; the SDK reads OTEL_TRACES_SAMPLER(_ARG)
		// because no sampler option is given.
		topts = append(topts, sdktrace.WithBatcher(abortable))
	}
	tp := sdktrace.NewTracerProvider(topts...)

	mopts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if reader != nil {
		mopts = append(mopts, sdkmetric.WithReader(reader))
	}
	mp := sdkmetric.NewMeterProvider(mopts...)

	p := &Provider{
		tracerProvider: tp,
		meterProvider:  mp,
		prometheus:     promHandler,
		notServed:      "metrics are not served over HTTP: OTEL_METRICS_EXPORTER selects a push exporter or none",
		flushers: []func(context.Context) error{
			func(ctx context.Context) error {
				if err := shutdownTraces(ctx, tp, abortable); err != nil {
					return fmt.Errorf("telemetry: shut down traces: %w", err)
				}
				return nil
			},
			func(ctx context.Context) error {
				if err := mp.Shutdown(ctx); err != nil {
					return fmt.Errorf("telemetry: shut down metrics: %w", err)
				}
				return nil
			},
		},
	}
	install(p, props, cfg.Logger)
	return p, nil
}

func install(p *Provider, props propagation.TextMapPropagator, logger *slog.Logger) {
	if logger == nil {
		logger = slog.Default()
	}
	p.errHandler = &errorLogger{logger: logger}
	p.prevErrHandler = otel.GetErrorHandler()
	otel.SetErrorHandler(p.errHandler)
	otel.SetTracerProvider(p.tracerProvider)
	otel.SetMeterProvider(p.meterProvider)
	otel.SetTextMapPropagator(props)
}

// newResource merges, lowest precedence first: the SDK's telemetry.sdk.*
// attributes, the default service.name (unknown_service:<executable>) and a
// random service.instance.id, cfg, then OTEL_RESOURCE_ATTRIBUTES and
// OTEL_SERVICE_NAME.
func newResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	attrs := make([]attribute.KeyValue, 0, 2+len(cfg.Attributes))
	if cfg.ServiceName != "" {
		attrs = append(attrs, attribute.String("service.name", cfg.ServiceName))
	}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	attrs = append(attrs, cfg.Attributes...)
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithService(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, &EnvError{Var: envResourceAttributes, Value: os.Getenv(envResourceAttributes), Err: err}
	}
	return res, nil
}

// TracerProvider returns the tracer provider Init installed as
// otel.GetTracerProvider(): the SDK's, or a no-op one when the SDK is
// disabled or p is the zero Provider. Pass it to components that take a
// trace.TracerProvider option when you prefer not to rely on the global.
func (p *Provider) TracerProvider() trace.TracerProvider {
	if p.tracerProvider == nil {
		return tracenoop.NewTracerProvider()
	}
	return p.tracerProvider
}

// MeterProvider returns the meter provider Init installed as
// otel.GetMeterProvider(): the SDK's, or a no-op one when the SDK is
// disabled or p is the zero Provider.
func (p *Provider) MeterProvider() metric.MeterProvider {
	if p.meterProvider == nil {
		return metricnoop.NewMeterProvider()
	}
	return p.meterProvider
}

// MetricsHandler returns the handler to mount at /metrics. It serves, in
// the Prometheus text exposition format (OpenMetrics is not negotiated),
// every metric recorded through p's meter provider, chassis's and the
// program's alike, plus target_info carrying the resource attributes.
// Each scrape collects afresh; handlers are cheap and safe for concurrent
// use, and every call returns one backed by the same registry.
//
// Other responses, as RFC 9457 application/problem+json:
//   - 404 when metrics are not served over HTTP: OTEL_METRICS_EXPORTER is
//     otlp, console or none (or unset with an OTLP endpoint configured),
//     OTEL_SDK_DISABLED=true, or p is the zero Provider. A scraper then
//     reports the target down instead of silently scraping nothing.
//   - 503 after Shutdown has been called.
//
// A metric that fails to gather is left out of the response, not turned
// into a 500, and the error is reported through otel.Handle.
func (p *Provider) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case p.stopped.Load():
			writeProblem(w, http.StatusServiceUnavailable, "telemetry is shut down")
		case p.prometheus == nil:
			detail := p.notServed
			if detail == "" {
				detail = "metrics are not served over HTTP"
			}
			writeProblem(w, http.StatusNotFound, detail)
		default:
			p.prometheus.ServeHTTP(w, r)
		}
	})
}

// Shutdown flushes buffered spans and metrics to their exporters and stops
// the pipeline: exporter connections are closed and no goroutine started by
// Init outlives it.
//
// Traces and metrics are flushed concurrently, each under ctx, so a slow
// trace flush does not use up the time left for metrics. ctx bounds the
// wait: when it ends, in-flight exports are canceled, Shutdown waits for
// them to return (promptly, as the exporters honour cancellation) and the
// result wraps ctx.Err(). Pass a context with a deadline: without one, an
// unreachable collector is retried until the exporters' own timeouts
// (OTEL_BSP_EXPORT_TIMEOUT, OTEL_METRIC_EXPORT_TIMEOUT; 30s by default).
//
// The failures of both signals are joined with errors.Join. Spans and
// metrics recorded after Shutdown are dropped; the global providers are
// left in place, and the OTel error handler that Init replaced is put back
// (see [Config.Logger]) once the flush is over, so errors of the flush
// itself are still logged. Shutdown is idempotent: later and concurrent calls wait
// for the first to finish and return its result.
func (p *Provider) Shutdown(ctx context.Context) error {
	p.shutdownOnce.Do(func() {
		p.stopped.Store(true)
		errs := make([]error, len(p.flushers))
		var wg sync.WaitGroup
		for i, flush := range p.flushers {
			wg.Go(func() { errs[i] = flush(ctx) })
		}
		wg.Wait()
		p.shutdownErr = errors.Join(errs...)
		if h := p.errHandler; h != nil {
			if otel.GetErrorHandler() == otel.ErrorHandler(h) {
				otel.SetErrorHandler(p.prevErrHandler)
			}
			h.off.Store(true)
		}
	})
	return p.shutdownErr
}
