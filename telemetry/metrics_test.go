package telemetry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/telemetry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// TestMetricsHandler_names records one instrument of each kind chassis uses
// through otel.GetMeterProvider() after Init, and checks the Prometheus
// name, type and sample the handler serves for it.
func TestMetricsHandler_names(t *testing.T) {
	isolate(t)
	p := mustInit(t, telemetry.Config{ServiceName: "orders"})
	ctx := t.Context()
	m := otel.GetMeterProvider().Meter("github.com/chassis-go/chassis/guard")

	decisions, err := m.Int64Counter("chassis.ratelimit.decisions", metric.WithUnit("{decision}"))
	if err != nil {
		t.Fatal(err)
	}
	decisions.Add(ctx, 3, metric.WithAttributes(
		attribute.String("chassis.decision", "allowed"), attribute.String("chassis.limiter", "memory")))
	inflight, err := m.Int64UpDownCounter("chassis.work.inflight", metric.WithUnit("{task}"))
	if err != nil {
		t.Fatal(err)
	}
	inflight.Add(ctx, 2, metric.WithAttributes(attribute.String("chassis.work.op", "map")))
	checks, err := m.Float64Histogram("chassis.health.check.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.1, 1))
	if err != nil {
		t.Fatal(err)
	}
	checks.Record(ctx, 0.25, metric.WithAttributes(attribute.String("chassis.check", "db"), attribute.String("chassis.check.status", "up")))
	if _, err := m.Int64ObservableGauge("chassis.ratelimit.keys", metric.WithUnit("{key}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(7, metric.WithAttributes(attribute.String("chassis.limiter", "memory")))
			return nil
		})); err != nil {
		t.Fatal(err)
	}
	bytes, err := m.Int64Counter("app.upload.size", metric.WithUnit("By"))
	if err != nil {
		t.Fatal(err)
	}
	bytes.Add(ctx, 512)

	code, body, hdr := scrape(t, p.MetricsHandler())
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("MetricsHandler() = %d %q; want 200 text/plain; version=0.0.4", code, hdr.Get("Content-Type"))
	}
	const scope = `otel_scope_name="github.com/chassis-go/chassis/guard",otel_scope_schema_url="",otel_scope_version=""`
	tests := []struct {
		otelName, typeLine, sample string
	}{
		{"chassis.ratelimit.decisions", "# TYPE chassis_ratelimit_decisions_total counter",
			`chassis_ratelimit_decisions_total{chassis_decision="allowed",chassis_limiter="memory",` + scope + `} 3`},
		{"chassis.work.inflight", "# TYPE chassis_work_inflight gauge",
			`chassis_work_inflight{chassis_work_op="map",` + scope + `} 2`},
		{"chassis.health.check.duration", "# TYPE chassis_health_check_duration_seconds histogram",
			`chassis_health_check_duration_seconds_bucket{chassis_check="db",chassis_check_status="up",` + scope + `,le="1"} 1`},
		{"chassis.ratelimit.keys", "# TYPE chassis_ratelimit_keys gauge",
			`chassis_ratelimit_keys{chassis_limiter="memory",` + scope + `} 7`},
		{"app.upload.size", "# TYPE app_upload_size_bytes_total counter",
			`app_upload_size_bytes_total{` + scope + `} 512`},
	}
	lines := slices.Collect(strings.Lines(body))
	for _, tc := range tests {
		for _, want := range []string{tc.typeLine, tc.sample} {
			if !slices.Contains(lines, want+"\n") {
				t.Errorf("%s: MetricsHandler() output lacks line %q; got:\n%s", tc.otelName, want, body)
			}
		}
	}
}

// TestMetricsHandler_exporter checks, for each OTEL_METRICS_EXPORTER
// setting, whether the handler serves metrics and whether an OTLP collector
// receives them on Shutdown.
func TestMetricsHandler_exporter(t *testing.T) {
	tests := []struct {
		name      string
		env       func(url string) map[string]string
		wantCode  int
		wantOTLP  bool
		wantInErr string // substring of the 404 detail
	}{
		{"unset", func(string) map[string]string { return nil }, http.StatusOK, false, ""},
		{"prometheus", func(url string) map[string]string {
			return map[string]string{"OTEL_METRICS_EXPORTER": " Prometheus ", "OTEL_EXPORTER_OTLP_ENDPOINT": url}
		}, http.StatusOK, false, ""},
		{"unset with traces endpoint only", func(url string) map[string]string {
			return map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url + "/v1/traces"}
		}, http.StatusOK, false, ""},
		{"unset with OTLP endpoint", func(url string) map[string]string {
			return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": url}
		}, http.StatusNotFound, true, "OTEL_METRICS_EXPORTER"},
		{"unset with metrics endpoint", func(url string) map[string]string {
			return map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": url + "/v1/metrics"}
		}, http.StatusNotFound, true, "OTEL_METRICS_EXPORTER"},
		{"otlp", func(url string) map[string]string {
			return map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": url}
		}, http.StatusNotFound, true, "OTEL_METRICS_EXPORTER"},
		{"none", func(url string) map[string]string {
			return map[string]string{"OTEL_METRICS_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": url}
		}, http.StatusNotFound, false, "OTEL_METRICS_EXPORTER"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			c := &collector{}
			setenv(t, tc.env(c.serveHTTP(t)))
			t.Setenv("OTEL_TRACES_EXPORTER", "none")
			p, err := telemetry.Init(t.Context(), telemetry.Config{})
			if err != nil {
				t.Fatalf("Init() = %v; want nil", err)
			}
			ctr, err := otel.GetMeterProvider().Meter("test").Int64Counter("orders.placed")
			if err != nil {
				t.Fatal(err)
			}
			ctr.Add(t.Context(), 1)

			code, body, hdr := scrape(t, p.MetricsHandler())
			if code != tc.wantCode {
				t.Errorf("MetricsHandler() status = %d; want %d (body %q)", code, tc.wantCode, body)
			}
			if code == http.StatusOK && !strings.Contains(body, "orders_placed_total{") {
				t.Errorf("MetricsHandler() body lacks orders_placed_total:\n%s", body)
			}
			if code == http.StatusNotFound {
				checkProblem(t, hdr, body, http.StatusNotFound, tc.wantInErr)
			}

			shutdown(t, p)
			_, metrics := c.received()
			if got := slices.Contains(metrics, "orders.placed"); got != tc.wantOTLP {
				t.Errorf("collector received metrics %v; want orders.placed received = %v", metrics, tc.wantOTLP)
			}
		})
	}
}

func TestMetricsHandler_afterShutdown(t *testing.T) {
	isolate(t)
	p, err := telemetry.Init(t.Context(), telemetry.Config{})
	if err != nil {
		t.Fatalf("Init() = %v; want nil", err)
	}
	shutdown(t, p)
	code, body, hdr := scrape(t, p.MetricsHandler())
	if code != http.StatusServiceUnavailable {
		t.Errorf("MetricsHandler() after Shutdown status = %d; want 503", code)
	}
	checkProblem(t, hdr, body, http.StatusServiceUnavailable, "shut down")
}

func TestMetricsHandler_zeroProvider(t *testing.T) {
	t.Parallel()
	var p telemetry.Provider
	code, body, hdr := scrape(t, p.MetricsHandler())
	if code != http.StatusNotFound {
		t.Errorf("zero Provider MetricsHandler() status = %d; want 404", code)
	}
	checkProblem(t, hdr, body, http.StatusNotFound, "not served")
}

// checkProblem checks an RFC 9457 problem response.
func checkProblem(t *testing.T, hdr http.Header, body string, status int, detail string) {
	t.Helper()
	if ct := hdr.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q; want application/problem+json", ct)
	}
	var pb struct {
		Type, Title, Detail string
		Status              int
	}
	if err := json.Unmarshal([]byte(body), &pb); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if pb.Status != status || pb.Title != http.StatusText(status) || pb.Type != "about:blank" || !strings.Contains(pb.Detail, detail) {
		t.Errorf("problem = %+v; want status %d, title %q, type about:blank, detail containing %q",
			pb, status, http.StatusText(status), detail)
	}
}

func BenchmarkMetricsHandler(b *testing.B) {
	for _, series := range []int{10, 1000} {
		b.Run(fmt.Sprintf("series=%d", series), func(b *testing.B) {
			isolate(b)
			p := mustInit(b, telemetry.Config{})
			ctr, err := p.MeterProvider().Meter("bench").Int64Counter("bench.requests")
			if err != nil {
				b.Fatal(err)
			}
			for i := range series {
				ctr.Add(b.Context(), 1, metric.WithAttributes(attribute.Int("shard", i)))
			}
			h := p.MetricsHandler()
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

// BenchmarkCounterAdd measures the hot path every chassis instrument takes
// once Init has installed the SDK: one Add with a precomputed attribute set.
func BenchmarkCounterAdd(b *testing.B) {
	isolate(b)
	mustInit(b, telemetry.Config{})
	ctr, err := otel.GetMeterProvider().Meter("bench").Int64Counter("chassis.ratelimit.decisions")
	if err != nil {
		b.Fatal(err)
	}
	opt := metric.WithAttributeSet(attribute.NewSet(
		attribute.String("chassis.decision", "allowed"), attribute.String("chassis.limiter", "memory")))
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		ctr.Add(ctx, 1, opt)
	}
}

// The Prometheus page carries the Go runtime and process series every Go
// dashboard expects.
func TestMetricsHandler_runtime(t *testing.T) {
	isolate(t)
	p := mustInit(t, telemetry.Config{ServiceName: "orders"})
	code, body, _ := scrape(t, p.MetricsHandler())
	if code != http.StatusOK {
		t.Fatalf("MetricsHandler() = %d", code)
	}
	for _, want := range []string{"go_goroutines ", "go_memstats_heap_alloc_bytes ", "process_resident_memory_bytes ", "process_open_fds "} {
		if !strings.Contains(body, "\n"+want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
