package telemetry_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/chassis-go/chassis/telemetry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ExampleInit shows the start of a main function: Init once, mount the
// metrics handler, shut down with a deadline on the way out. With no OTEL_*
// variables set, spans stay in the process and metrics are served for
// Prometheus; anything recorded through the OTel API appears on /metrics.
func ExampleInit() {
	ctx := context.Background()
	tel, err := telemetry.Init(ctx, telemetry.Config{ServiceName: "orders", ServiceVersion: "1.4.0"})
	if err != nil {
		log.Fatal(err) // e.g. telemetry: OTEL_TRACES_EXPORTER="bogus": unknown exporter or metrics producer
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(ctx); err != nil {
			log.Print(err)
		}
	}()

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", tel.MetricsHandler())

	// Any package, chassis's or yours, records through the global provider.
	decisions, _ := otel.GetMeterProvider().Meter("github.com/chassis-go/chassis/guard").
		Int64Counter("chassis.ratelimit.decisions", metric.WithUnit("{decision}"))
	decisions.Add(ctx, 2, metric.WithAttributes(
		attribute.String("chassis.decision", "denied"), attribute.String("chassis.limiter", "memory")))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "chassis_") || strings.HasPrefix(line, "# TYPE chassis_") {
			fmt.Print(line)
		}
	}
	// Output:
	// # TYPE chassis_ratelimit_decisions_total counter
	// chassis_ratelimit_decisions_total{chassis_decision="denied",chassis_limiter="memory",otel_scope_name="github.com/chassis-go/chassis/guard",otel_scope_schema_url="",otel_scope_version=""} 2
}
