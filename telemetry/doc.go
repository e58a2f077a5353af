// Package telemetry sets up OpenTelemetry tracing and metrics for a service
// from the standard OTEL_* environment variables, and serves the metrics for
// Prometheus. Call [Init] once from main; it returns a [*Provider] whose
// [Provider.MetricsHandler] goes on /metrics and whose [Provider.Shutdown]
// flushes everything on the way out.
//
// telemetry is the only chassis package that imports the OpenTelemetry SDK.
// Every other package records through the OTel API (otel.GetMeterProvider,
// otel.GetTracerProvider), which does nothing until Init installs the SDK.
// So call Init before building the components that record telemetry.
//
//	tel, err := telemetry.Init(ctx, telemetry.Config{ServiceName: "orders", ServiceVersion: version})
//	if err != nil {
//		return err // an OTEL_* value Init cannot use: *telemetry.EnvError
//	}
//	defer func() {
//		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
//		defer cancel()
//		_ = tel.Shutdown(ctx)
//	}()
//	mux.Handle("GET /metrics", tel.MetricsHandler())
//
// # Defaults
//
// With no OTEL_* variable set, nothing leaves the process and no collector is
// needed. Spans are created, sampled (parentbased_always_on) and propagated
// (W3C tracecontext and baggage), so trace ids reach logs and downstream
// calls, but they are not exported. Metrics are kept for a Prometheus scrape
// of [Provider.MetricsHandler], on a registry that belongs to the Provider:
// the global prometheus.DefaultRegisterer is never used.
//
// # Configuration
//
// Init reads the variables the OpenTelemetry specification defines, with
// one chassis-specific default: no trace export and a Prometheus handler
// when no exporter and no collector endpoint are configured.
//
//   - OTEL_SDK_DISABLED=true (case-insensitive): no-op tracer and meter
//     providers, no exporter built or validated; propagators are still
//     installed. MetricsHandler answers 404.
//   - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: resource attributes.
//     service.name is, by precedence, OTEL_SERVICE_NAME, then service.name
//     in OTEL_RESOURCE_ATTRIBUTES, then Config.ServiceName, then
//     "unknown_service:<executable>". Likewise OTEL_RESOURCE_ATTRIBUTES
//     overrides Config.ServiceVersion and Config.Attributes. A random
//     service.instance.id and the telemetry.sdk.* attributes are added.
//   - OTEL_TRACES_EXPORTER: otlp, console (JSON on stdout) or none. Unset:
//     otlp if OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
//     is set, otherwise no export.
//   - OTEL_METRICS_EXPORTER: prometheus, otlp, console or none. Unset: otlp
//     if OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT
//     is set, as the specification's default; otherwise prometheus. Set
//     OTEL_METRICS_EXPORTER=prometheus to keep /metrics while traces go to a
//     collector through OTEL_EXPORTER_OTLP_ENDPOINT. "prometheus" is served by
//     MetricsHandler on your own server: Init starts no HTTP server, so
//     OTEL_EXPORTER_PROMETHEUS_HOST and OTEL_EXPORTER_PROMETHEUS_PORT are
//     ignored. OTEL_METRICS_PRODUCERS applies to otlp and console only.
//   - OTEL_EXPORTER_OTLP_* (endpoint, protocol, headers, timeout,
//     compression, certificates, with their per-signal _TRACES_ and _METRICS_
//     forms): read by the OTLP exporters. The protocol defaults to
//     http/protobuf; grpc is the alternative. Init checks every endpoint
//     variable (the _LOGS_ one too) first: it must be an http:// or
//     https:// URL with a host and a valid port, and without userinfo
//     (put credentials in OTEL_EXPORTER_OTLP_HEADERS). The exporters would
//     otherwise log a malformed URL, password included, and send to
//     localhost.
//   - OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: read by the trace SDK.
//     Init rejects values the SDK would only log and ignore (an unknown
//     sampler, a ratio outside 0..1).
//   - OTEL_PROPAGATORS: a comma-separated list of tracecontext, baggage and
//     none. The default is tracecontext,baggage; other propagators (b3,
//     jaeger, xray) are not shipped and are rejected.
//   - OTEL_BSP_*, OTEL_METRIC_EXPORT_INTERVAL, OTEL_METRIC_EXPORT_TIMEOUT and
//     the span limits: read by the SDK.
//
// Exporters are built by go.opentelemetry.io/contrib/exporters/autoexport;
// their names are lower-case, and each signal takes one exporter (a list
// such as "otlp,console" is rejected). Logs are not handled here: chassis
// services log through log/slog.
//
// Init fails with an [*EnvError] naming the variable for any value it cannot
// use, before touching a global and after shutting down whatever it built.
// A collector that is down is not an Init error: the exporters connect
// lazily, and failed exports are reported through otel.Handle, which Init
// routes to [Config.Logger] so that they appear in the service's structured
// log rather than as plain text on stderr.
//
// # Metric names on /metrics
//
// The Prometheus exporter translates names with the
// otlptranslator.UnderscoreEscapingWithSuffixes strategy (set explicitly,
// not left to the exporter's default, which depends on a prometheus global):
// dots and other invalid characters become underscores, the unit is
// appended as a suffix (s becomes _seconds, By becomes _bytes; annotations
// in braces such as {decision} are dropped) and monotonic counters end in
// _total. Every series carries otel_scope_name, otel_scope_version and
// otel_scope_schema_url labels, and a target_info series carries the
// resource attributes. For example the counter chassis.ratelimit.decisions
// with unit {decision} is served as
//
//	chassis_ratelimit_decisions_total{chassis_decision="allowed",chassis_limiter="memory",otel_scope_name="github.com/chassis-go/chassis/guard",...} 3
//
// and the histogram chassis.health.check.duration (unit s) as
// chassis_health_check_duration_seconds_bucket, _sum and _count.
//
// The SDK's default histogram buckets (0, 5, 10, 25, ... 10000) suit
// milliseconds; histograms in seconds should pass bucket advice
// (metric.WithExplicitBucketBoundaries), as otelhttp and otelgrpc do.
//
// docs/metrics.md in the chassis repository lists every instrument chassis
// records, with its Prometheus name.
//
// # Shutdown
//
// [Provider.Shutdown] flushes traces and metrics concurrently, each under
// the caller's context, and returns once every exporter goroutine and
// connection is gone, even if a collector is stalled: when the context
// ends, in-flight exports are canceled rather than left running.
package telemetry
