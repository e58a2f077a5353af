package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chassis-go/chassis/telemetry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
)

func TestInit_resource(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  telemetry.Config
		env  map[string]string
		want []string // substrings of the target_info line
	}{
		{
			name: "config only",
			cfg:  telemetry.Config{ServiceName: "orders", ServiceVersion: "1.2.3"},
			want: []string{`service_name="orders"`, `service_version="1.2.3"`, `telemetry_sdk_language="go"`, `service_instance_id="`},
		},
		{
			name: "zero config names the executable",
			want: []string{`service_name="unknown_service:` + filepath.Base(exe) + `"`},
		},
		{
			name: "OTEL_SERVICE_NAME wins over config",
			cfg:  telemetry.Config{ServiceName: "orders"},
			env:  map[string]string{"OTEL_SERVICE_NAME": "from-env"},
			want: []string{`service_name="from-env"`},
		},
		{
			name: "OTEL_RESOURCE_ATTRIBUTES wins over config",
			cfg:  telemetry.Config{ServiceName: "orders", ServiceVersion: "1", Attributes: []attribute.KeyValue{attribute.String("deployment.environment.name", "dev")}},
			env:  map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=attrs,service.version=2,deployment.environment.name=prod"},
			want: []string{`service_name="attrs"`, `service_version="2"`, `deployment_environment_name="prod"`},
		},
		{
			name: "OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES",
			env:  map[string]string{"OTEL_SERVICE_NAME": "svc", "OTEL_RESOURCE_ATTRIBUTES": "service.name=attrs"},
			want: []string{`service_name="svc"`},
		},
		{
			name: "config attributes",
			cfg:  telemetry.Config{Attributes: []attribute.KeyValue{attribute.String("deployment.environment.name", "dev")}},
			want: []string{`deployment_environment_name="dev"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			setenv(t, tc.env)
			p := mustInit(t, tc.cfg)
			_, body, _ := scrape(t, p.MetricsHandler())
			var info string
			for line := range strings.Lines(body) {
				if strings.HasPrefix(line, "target_info{") {
					info = line
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(info, w) {
					t.Errorf("target_info = %q; want it to contain %s", info, w)
				}
			}
		})
	}
}

func TestInit_propagators(t *testing.T) {
	tests := []struct {
		env  string
		want []string
	}{
		{"", []string{"baggage", "traceparent", "tracestate"}},
		{"tracecontext", []string{"traceparent", "tracestate"}},
		{" Baggage , tracecontext,baggage", []string{"baggage", "traceparent", "tracestate"}},
		{"none", nil},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			isolate(t)
			t.Setenv("OTEL_PROPAGATORS", tc.env)
			mustInit(t, telemetry.Config{})
			got := otel.GetTextMapPropagator().Fields()
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("OTEL_PROPAGATORS=%q: Fields() = %v; want %v", tc.env, got, tc.want)
			}
		})
	}
}

func TestInit_sampler(t *testing.T) {
	tests := []struct {
		sampler, arg string
		want         bool // sampled
	}{
		{"", "", true},
		{"always_on", "", true},
		{"always_off", "", false},
		{"traceidratio", "0", false},
		{"parentbased_traceidratio", "1", true},
		{"ParentBased_Always_Off", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.sampler+"/"+tc.arg, func(t *testing.T) {
			isolate(t)
			t.Setenv("OTEL_TRACES_SAMPLER", tc.sampler)
			t.Setenv("OTEL_TRACES_SAMPLER_ARG", tc.arg)
			mustInit(t, telemetry.Config{})
			_, span := otel.Tracer("test").Start(t.Context(), "op")
			defer span.End()
			if got := span.SpanContext().IsSampled(); got != tc.want {
				t.Errorf("sampler %q arg %q: IsSampled() = %v; want %v", tc.sampler, tc.arg, got, tc.want)
			}
			if !span.SpanContext().IsValid() {
				t.Errorf("sampler %q: span context is invalid; want trace and span ids", tc.sampler)
			}
		})
	}
}

func TestInit_envErrors(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"unknown trace exporter", map[string]string{"OTEL_TRACES_EXPORTER": "bogus"}, "OTEL_TRACES_EXPORTER"},
		{"trace exporter list", map[string]string{"OTEL_TRACES_EXPORTER": "otlp,console"}, "OTEL_TRACES_EXPORTER"},
		{"unknown metric exporter", map[string]string{"OTEL_METRICS_EXPORTER": "bogus"}, "OTEL_METRICS_EXPORTER"},
		{"metric exporter list", map[string]string{"OTEL_METRICS_EXPORTER": "otlp,prometheus"}, "OTEL_METRICS_EXPORTER"},
		{"unknown OTLP protocol", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"}, "OTEL_TRACES_EXPORTER"},
		{"unknown OTLP protocol for the endpoint default", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/v1/traces", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"}, "OTEL_TRACES_EXPORTER"},
		{"unknown sampler", map[string]string{"OTEL_TRACES_SAMPLER": "jaeger_remote"}, "OTEL_TRACES_SAMPLER"},
		{"ratio above 1", map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG"},
		{"ratio not a number", map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"}, "OTEL_TRACES_SAMPLER_ARG"},
		{"unknown propagator", map[string]string{"OTEL_PROPAGATORS": "tracecontext,b3"}, "OTEL_PROPAGATORS"},
		{"malformed resource attributes", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name"}, "OTEL_RESOURCE_ATTRIBUTES"},
		{"endpoint with a bad port", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:badport"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"endpoint port out of range", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:70000"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"endpoint without a scheme", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"endpoint with another scheme", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://collector/v1/traces"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{"endpoint without a host", map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http:///v1/metrics"}, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"},
		{"logs endpoint not a URL", map[string]string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://[::1"}, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"},
		// The grpc trace exporter (a client connection) is built before the
		// metric reader fails: Init must close it (goleak checks).
		{"metric failure after trace exporter", map[string]string{
			"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_METRICS_EXPORTER": "bogus",
		}, "OTEL_METRICS_EXPORTER"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			setenv(t, tc.env)
			tp, mp, prop := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator()
			p, err := telemetry.Init(t.Context(), telemetry.Config{})
			var envErr *telemetry.EnvError
			if !errors.As(err, &envErr) {
				t.Fatalf("Init() with %v = (%v, %v); want an *EnvError", tc.env, p, err)
			}
			if envErr.Var != tc.wantVar {
				t.Errorf("Init() with %v: EnvError.Var = %q; want %q (err: %v)", tc.env, envErr.Var, tc.wantVar, err)
			}
			if !strings.HasPrefix(err.Error(), "telemetry: "+tc.wantVar+"=") {
				t.Errorf("Init() err = %q; want prefix %q", err, "telemetry: "+tc.wantVar+"=")
			}
			if p != nil {
				t.Errorf("Init() provider = %v; want nil on error", p)
			}
			if otel.GetTracerProvider() != tp || otel.GetMeterProvider() != mp || otel.GetTextMapPropagator() != prop {
				t.Errorf("Init() failed but changed the global providers or propagator")
			}
		})
	}
}

// TestInit_endpointCredentials checks that an OTLP endpoint with userinfo,
// parsable or not, fails Init and that no error text holds the password.
func TestInit_endpointCredentials(t *testing.T) {
	const password = "s3cr3t-pw"
	for _, key := range []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
	} {
		for _, v := range []string{
			"https://user:" + password + "@collector:badport",
			"https://user:" + password + "@collector:4318",
			"http://user:" + password + "/x@collector:4318",
			"user:" + password + "@collector:4317",
			"https://user:%zz" + password + "@collector",
		} {
			t.Run(key+"="+v, func(t *testing.T) {
				isolate(t)
				t.Setenv(key, v)
				var logs bytes.Buffer
				logger := slog.New(slog.NewTextHandler(&logs, nil))
				eh := otel.GetErrorHandler()
				p, err := telemetry.Init(t.Context(), telemetry.Config{Logger: logger})
				var envErr *telemetry.EnvError
				if !errors.As(err, &envErr) || envErr.Var != key {
					t.Fatalf("Init() = (%v, %v); want an *EnvError for %s", p, err, key)
				}
				for what, text := range map[string]string{"Error()": err.Error(), "Value": envErr.Value, "Err": envErr.Err.Error(), "log": logs.String()} {
					if strings.Contains(text, password) || strings.Contains(text, "%zz") {
						t.Errorf("%s = %q; want no credentials", what, text)
					}
				}
				if !strings.Contains(envErr.Value, "xxxxx@collector") {
					t.Errorf("Value = %q; want the userinfo replaced by xxxxx", envErr.Value)
				}
				if otel.GetErrorHandler() != eh {
					t.Error("Init failed but replaced the OTel error handler")
				}
			})
		}
	}
}

// TestInit_errorHandler checks that OpenTelemetry's errors go to
// Config.Logger while the Provider runs, and that Shutdown restores the
// previous handler.
func TestInit_errorHandler(t *testing.T) {
	isolate(t)
	var logs syncBuffer
	prev := otel.GetErrorHandler()
	p, err := telemetry.Init(t.Context(), telemetry.Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	otel.Handle(errors.New("export failed"))
	var rec map[string]any
	if err := json.Unmarshal([]byte(logs.String()), &rec); err != nil {
		t.Fatalf("log = %q; want one JSON record: %v", logs.String(), err)
	}
	if rec["level"] != "ERROR" || rec["msg"] != "opentelemetry error" || rec["err"] != "export failed" {
		t.Errorf("log record = %v; want ERROR \"opentelemetry error\" with err", rec)
	}
	shutdown(t, p)
	if otel.GetErrorHandler() != prev {
		t.Error("after Shutdown, the OTel error handler was not restored")
	}
	n := len(logs.String())
	otel.Handle(errors.New("after shutdown"))
	if len(logs.String()) != n {
		t.Errorf("after Shutdown, the logger got %q", logs.String()[n:])
	}
}

// TestNilOptions shows the nil rule of Config: a nil Logger means
// slog.Default() at the time of Init.
func TestNilOptions(t *testing.T) {
	isolate(t)
	var logs syncBuffer
	def := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(def) })
	p, err := telemetry.Init(t.Context(), telemetry.Config{Logger: nil})
	if err != nil {
		t.Fatal(err)
	}
	otel.Handle(errors.New("to the default logger"))
	if !strings.Contains(logs.String(), `"err":"to the default logger"`) {
		t.Errorf("slog.Default() got %q; want the OTel error", logs.String())
	}
	shutdown(t, p)
}

func TestInit_doneContext(t *testing.T) {
	isolate(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	p, err := telemetry.Init(ctx, telemetry.Config{})
	if !errors.Is(err, context.Canceled) || p != nil {
		t.Errorf("Init(canceled ctx) = (%v, %v); want (nil, context.Canceled)", p, err)
	}
}

func TestInit_sdkDisabled(t *testing.T) {
	isolate(t)
	// Exporter settings are not even looked at when the SDK is disabled.
	setenv(t, map[string]string{"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "bogus", "OTEL_METRICS_EXPORTER": "bogus"})
	p := mustInit(t, telemetry.Config{ServiceName: "orders"})

	if otel.GetTracerProvider() != p.TracerProvider() || otel.GetMeterProvider() != p.MeterProvider() {
		t.Errorf("Init() did not install its providers as the globals")
	}
	_, span := otel.Tracer("test").Start(t.Context(), "op")
	span.End()
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Errorf("with OTEL_SDK_DISABLED=true: span recording=%v valid=%v; want a no-op span", span.IsRecording(), span.SpanContext().IsValid())
	}
	code, body, hdr := scrape(t, p.MetricsHandler())
	if code != http.StatusNotFound || hdr.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, "OTEL_SDK_DISABLED") {
		t.Errorf("MetricsHandler() = %d %q %q; want 404 application/problem+json naming OTEL_SDK_DISABLED", code, hdr.Get("Content-Type"), body)
	}
	// Propagation still works with the SDK disabled.
	if got := otel.GetTextMapPropagator().Fields(); len(got) != 3 {
		t.Errorf("propagator Fields() = %v; want traceparent, tracestate and baggage", got)
	}
}

func TestInit_installsGlobals(t *testing.T) {
	isolate(t)
	p := mustInit(t, telemetry.Config{})
	if otel.GetTracerProvider() != p.TracerProvider() {
		t.Errorf("otel.GetTracerProvider() = %v; want p.TracerProvider() %v", otel.GetTracerProvider(), p.TracerProvider())
	}
	if otel.GetMeterProvider() != p.MeterProvider() {
		t.Errorf("otel.GetMeterProvider() = %v; want p.MeterProvider() %v", otel.GetMeterProvider(), p.MeterProvider())
	}
	// With no exporter configured spans are still real: ids for log
	// correlation and propagation.
	_, span := otel.Tracer("test").Start(t.Context(), "op")
	defer span.End()
	if !span.IsRecording() || !span.SpanContext().IsValid() {
		t.Errorf("span recording=%v valid=%v; want a recording span with ids", span.IsRecording(), span.SpanContext().IsValid())
	}
}

func TestProvider_zero(t *testing.T) {
	t.Parallel()
	var p telemetry.Provider
	if err := p.Shutdown(t.Context()); err != nil {
		t.Errorf("zero Provider.Shutdown() = %v; want nil", err)
	}
	if p.TracerProvider() == nil || p.MeterProvider() == nil {
		t.Errorf("zero Provider: TracerProvider()=%v MeterProvider()=%v; want no-op providers", p.TracerProvider(), p.MeterProvider())
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use: OTel may report
// errors from its own goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
