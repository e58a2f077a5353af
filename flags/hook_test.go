package flags_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/flags"
	"github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// The provider's hook counts every evaluation made through the SDK and adds
// a span event to the caller's span, with the flag, variant, reason and
// error, and never the targeting key or any other context attribute.
func TestHookTelemetry(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	p := flags.NewProvider(flags.FileSource("testdata/flags.json"), flags.WithMeterProvider(mp))
	_, client := sdkClient(t, p)

	const secret = "user-secret-42"
	ec := openfeature.NewEvaluationContext(secret, map[string]any{"beta": true, "email": secret + "@example.com"})
	ctx, span := tp.Tracer("test").Start(t.Context(), "request")
	client.Boolean(ctx, "new-checkout", false, ec) // TARGETING_MATCH on
	client.Boolean(ctx, "new-checkout", false, ec)
	client.Boolean(ctx, "nope", false, ec) // FLAG_NOT_FOUND
	span.End()

	type point struct{ key, reason, variant, errType string }
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[point]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/chassis-go/chassis/flags" {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name != "chassis.flags.evaluations" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				checkNoSecret(t, "metric", dp.Attributes.ToSlice(), secret)
				get := func(k string) string { v, _ := dp.Attributes.Value(attribute.Key(k)); return v.AsString() }
				got[point{get("feature_flag.key"), get("feature_flag.result.reason"), get("feature_flag.result.variant"), get("error.type")}] += dp.Value
			}
		}
	}
	want := map[point]int64{
		{"new-checkout", "targeting_match", "on", ""}: 2,
		{"nope", "error", "", "flag_not_found"}:       1,
	}
	if len(got) != len(want) {
		t.Errorf("chassis.flags.evaluations = %v; want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("chassis.flags.evaluations%+v = %d; want %d", k, got[k], v)
		}
	}

	ended := spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans; want 1", len(ended))
	}
	events := ended[0].Events()
	if len(events) != 3 {
		t.Fatalf("%d span events; want 3", len(events))
	}
	for _, e := range events {
		checkNoSecret(t, "span event", e.Attributes, secret)
		if e.Name != "feature_flag.evaluation" {
			t.Errorf("span event %q; want feature_flag.evaluation", e.Name)
		}
	}
	first := attribute.NewSet(events[0].Attributes...)
	for k, want := range map[string]string{
		"feature_flag.key":            "new-checkout",
		"feature_flag.provider.name":  flags.ProviderName,
		"feature_flag.result.reason":  "targeting_match",
		"feature_flag.result.variant": "on",
	} {
		if v, _ := first.Value(attribute.Key(k)); v.AsString() != want {
			t.Errorf("first span event %s = %q; want %q", k, v.AsString(), want)
		}
	}
	third := attribute.NewSet(events[2].Attributes...)
	if v, _ := third.Value("error.type"); v.AsString() != "flag_not_found" {
		t.Errorf("third span event error.type = %q; want flag_not_found", v.AsString())
	}
}

func checkNoSecret(t *testing.T, where string, attrs []attribute.KeyValue, secret string) {
	t.Helper()
	for _, kv := range attrs {
		if v := kv.Value.String(); strings.Contains(v, secret) {
			t.Errorf("%s attribute %s = %q carries the targeting key", where, kv.Key, v)
		}
	}
}
