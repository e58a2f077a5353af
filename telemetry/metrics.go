package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// newMetricReader builds the metric reader selected by the environment and
// the handler that serves it:
//
//   - OTEL_METRICS_EXPORTER unset and no OTLP endpoint for metrics
//     (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT), or
//     set to "prometheus": a Prometheus exporter on a registry of its own,
//     served by the returned handler.
//   - unset with an OTLP endpoint: otlp, autoexport's default.
//   - otlp, console, none: autoexport builds it; "none" yields a nil reader.
//
// For everything but Prometheus the handler is nil.
func newMetricReader(ctx context.Context) (sdkmetric.Reader, http.Handler, error) {
	if err := checkSingle(envMetricsExporter); err != nil {
		return nil, nil, err
	}
	if normalized(envMetricsExporter) == "prometheus" {
		return newPrometheusReader()
	}
	var handler http.Handler
	reader, err := autoexport.NewMetricReader(ctx, autoexport.WithFallbackMetricReader(
		func(ctx context.Context) (sdkmetric.Reader, error) {
			if !isSet(envOTLPEndpoint, envOTLPMetricsEndpoint) {
				r, h, err := newPrometheusReader()
				handler = h
				return r, err
			}
			r, err := autoexport.NewMetricReader(ctx)
			if err != nil {
				return nil, fmt.Errorf("default otlp exporter (an OTLP endpoint is set): %w", err)
			}
			return r, nil
		}))
	if err != nil {
		return nil, nil, &EnvError{Var: envMetricsExporter, Value: os.Getenv(envMetricsExporter), Err: err}
	}
	if autoexport.IsNoneMetricReader(reader) {
		// A ManualReader with no goroutines: nothing to shut down.
		return nil, nil, nil
	}
	return reader, handler, nil
}

// newPrometheusReader returns a Prometheus exporter registered on a new,
// non-global registry, and a promhttp handler for that registry. The
// registry also holds the Go runtime and process collectors
// (go_goroutines, go_memstats_*, go_gc_duration_seconds,
// process_resident_memory_bytes, process_open_fds, ...), the series every
// Go dashboard expects; the process collector reports nothing on systems
// without /proc.
//
// Names are translated with otlptranslator.UnderscoreEscapingWithSuffixes,
// set explicitly because the exporter's default depends on the global
// model.NameValidationScheme: dots become underscores, the unit is appended
// as a suffix (s → _seconds, By → _bytes; annotations such as {decision}
// are dropped) and monotonic counters get _total.
func newPrometheusReader() (sdkmetric.Reader, http.Handler, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, nil, fmt.Errorf("telemetry: register the Go collector: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, nil, fmt.Errorf("telemetry: register the process collector: %w", err)
	}
	exp, err := promexporter.New(
		promexporter.WithRegisterer(reg),
		promexporter.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: build prometheus exporter: %w", err)
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// Serve what could be gathered rather than a 500 whose body would
		// carry internal error text; the error goes to otel.Handle.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      otelErrorLog{},
	})
	return exp, h, nil
}

// otelErrorLog reports promhttp's gathering errors through otel.Handle, the
// same place the SDK reports its own errors.
type otelErrorLog struct{}

func (otelErrorLog) Println(v ...any) {
	otel.Handle(fmt.Errorf("telemetry: serve metrics: %s", fmt.Sprint(v...)))
}

// writeProblem writes a minimal RFC 9457 problem response. telemetry may not
// import chassis's problem package (see DESIGN.md), and the two responses it
// writes need nothing more.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{"about:blank", http.StatusText(status), status, detail})
}
