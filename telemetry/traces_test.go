package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/telemetry"
	"go.opentelemetry.io/otel"
)

// TestInit_tracesExporter checks which OTEL_* settings send spans to an
// OTLP collector, over both OTLP transports.
func TestInit_tracesExporter(t *testing.T) {
	tests := []struct {
		name string
		env  func(url string) map[string]string
		want bool // the collector receives the span
	}{
		{"unset: no export", func(url string) map[string]string {
			// Only metrics point at the collector.
			return map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": url + "/v1/metrics"}
		}, false},
		{"unset with OTLP endpoint: otlp", func(url string) map[string]string {
			return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": url}
		}, true},
		{"unset with traces endpoint: otlp", func(url string) map[string]string {
			return map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url + "/v1/traces"}
		}, true},
		{"otlp", func(url string) map[string]string {
			return map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": url}
		}, true},
		{"none overrides the endpoint", func(url string) map[string]string {
			return map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": url}
		}, false},
	}
	for _, proto := range []string{"http/protobuf", "grpc"} {
		for _, tc := range tests {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				isolate(t)
				c := &collector{}
				url := c.serveHTTP(t)
				if proto == "grpc" {
					url = c.serveGRPC(t)
					if strings.Contains(tc.name, "traces endpoint") {
						// gRPC endpoints carry no path.
						tc.env = func(string) map[string]string {
							return map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url}
						}
					}
				}
				setenv(t, tc.env(url))
				t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", proto)
				t.Setenv("OTEL_METRICS_EXPORTER", "none")

				p, err := telemetry.Init(t.Context(), telemetry.Config{ServiceName: "orders"})
				if err != nil {
					t.Fatalf("Init() = %v; want nil", err)
				}
				_, span := otel.Tracer("test").Start(t.Context(), "checkout")
				span.End()
				shutdown(t, p)

				spans, _ := c.received()
				if got := slices.Contains(spans, "checkout"); got != tc.want {
					t.Errorf("collector received spans %v; want checkout received = %v", spans, tc.want)
				}
			})
		}
	}
}

// TestInit_consoleExporters runs the test binary again with the console
// exporters selected and checks what it printed: the exporters write to
// the process's stdout, captured when their package is initialised.
func TestInit_consoleExporters(t *testing.T) {
	if os.Getenv("TELEMETRY_TEST_CONSOLE_CHILD") == "1" {
		t.Skip("running as the child")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestConsoleChild$", "-test.count=1")
	env := []string{"TELEMETRY_TEST_CONSOLE_CHILD=1", "OTEL_TRACES_EXPORTER=console", "OTEL_METRICS_EXPORTER=console"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{`"Name":"console-span"`, `"Name":"console.counter"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %s:\n%s", want, out)
		}
	}
}

// TestConsoleChild is the child half of TestInit_consoleExporters.
func TestConsoleChild(t *testing.T) {
	if os.Getenv("TELEMETRY_TEST_CONSOLE_CHILD") != "1" {
		t.Skip("only run by TestInit_consoleExporters")
	}
	p, err := telemetry.Init(t.Context(), telemetry.Config{})
	if err != nil {
		t.Fatalf("Init() = %v; want nil", err)
	}
	_, span := otel.Tracer("test").Start(t.Context(), "console-span")
	span.End()
	ctr, err := otel.GetMeterProvider().Meter("test").Int64Counter("console.counter")
	if err != nil {
		t.Fatal(err)
	}
	ctr.Add(t.Context(), 1)
	if err := p.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown() = %v; want nil", err)
	}
}

// TestShutdown_unreachableCollector points both signals at a port nobody
// listens on: Init must not block and Shutdown with a short deadline must
// return an error (connection refused, or the deadline when the exporter
// retries) and leave no goroutine behind (goleak checks in TestMain).
func TestShutdown_unreachableCollector(t *testing.T) {
	for _, proto := range []string{"http/protobuf", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			isolate(t)
			p := initAndRecord(t, "http://"+deadAddr(t), proto)
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			if err := p.Shutdown(ctx); err == nil {
				t.Errorf("Shutdown() with collector down = nil; want an error")
			}
		})
	}
}

// TestShutdown_stalledCollector points both signals at a listener that
// never accepts: connections open but no response ever comes, so both
// flushes run into ctx. Shutdown must return with both failures joined,
// each wrapping ctx's error, and must have stopped every exporter
// goroutine (goleak checks in TestMain). The trace half is the case the
// SDK alone gets wrong: its batch processor keeps exporting after
// TracerProvider.Shutdown returns.
func TestShutdown_stalledCollector(t *testing.T) {
	for _, proto := range []string{"http/protobuf", "grpc"} {
		for _, ctxState := range []string{"deadline", "already canceled"} {
			t.Run(proto+"/"+ctxState, func(t *testing.T) {
				isolate(t)
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = ln.Close() })
				p := initAndRecord(t, "http://"+ln.Addr().String(), proto)

				var (
					ctx    context.Context
					cancel context.CancelFunc
					want   error
				)
				if ctxState == "deadline" {
					ctx, cancel = context.WithTimeout(t.Context(), 200*time.Millisecond)
					want = context.DeadlineExceeded
				} else {
					ctx, cancel = context.WithCancel(t.Context())
					cancel()
					want = context.Canceled
				}
				defer cancel()
				err = p.Shutdown(ctx)
				for _, sig := range []string{"traces", "metrics"} {
					if !strings.Contains(fmt.Sprint(err), "telemetry: shut down "+sig+": ") {
						t.Errorf("Shutdown() = %v; want the %s failure joined in", err, sig)
					}
				}
				if !errors.Is(err, want) {
					t.Errorf("Shutdown(%s) = %v; want an error wrapping %v", ctxState, err, want)
				}
				if again := p.Shutdown(t.Context()); again != err {
					t.Errorf("second Shutdown() = %v; want the first result %v", again, err)
				}
			})
		}
	}
}

// initAndRecord calls Init with both signals exported over OTLP to
// endpoint and records one span and one measurement.
func initAndRecord(t *testing.T, endpoint, proto string) *telemetry.Provider {
	t.Helper()
	setenv(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
		"OTEL_EXPORTER_OTLP_PROTOCOL": proto,
		"OTEL_EXPORTER_OTLP_TIMEOUT":  "60000", // ms: longer than the test's deadlines
	})
	p, err := telemetry.Init(t.Context(), telemetry.Config{})
	if err != nil {
		t.Fatalf("Init() = %v; want nil", err)
	}
	_, span := otel.Tracer("test").Start(t.Context(), "lost")
	span.End()
	ctr, err := otel.GetMeterProvider().Meter("test").Int64Counter("lost")
	if err != nil {
		t.Fatal(err)
	}
	ctr.Add(t.Context(), 1)
	return p
}
