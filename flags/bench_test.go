package flags_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/chassis-go/chassis/flags"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// BenchmarkBooleanEvaluation measures the provider alone, as the SDK calls
// it, for each way a flag resolves.
func BenchmarkBooleanEvaluation(b *testing.B) {
	p := flags.NewProvider(flags.FileSource("testdata/flags.json"), flags.WithLogger(slog.New(slog.DiscardHandler)))
	ctx := context.Background()
	cases := []struct {
		name string
		flag string
		fc   openfeature.FlattenedContext
	}{
		{"disabled", "legacy-export", openfeature.FlattenedContext{}}, // the shortest path
		{"targeting_match", "new-checkout", openfeature.FlattenedContext{"targetingKey": "user-1", "beta": true}},
		{"split", "new-checkout", openfeature.FlattenedContext{"targetingKey": "user-1", "country": "FR"}},
		{"not_found", "nope", openfeature.FlattenedContext{}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.BooleanEvaluation(ctx, c.flag, false, c.fc)
			}
		})
	}
	b.Run("split_parallel", func(b *testing.B) {
		b.ReportAllocs()
		fc := openfeature.FlattenedContext{"targetingKey": "user-1", "country": "FR"}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p.BooleanEvaluation(ctx, "new-checkout", false, fc)
			}
		})
	})
}

// BenchmarkSDKBoolean measures a call site: client.Boolean through the
// OpenFeature SDK, with the provider's hook, with no-op telemetry and with
// an OpenTelemetry SDK meter provider recording the evaluation counter.
func BenchmarkSDKBoolean(b *testing.B) {
	b.Run("noop", func(b *testing.B) { benchSDKBoolean(b, noop.NewMeterProvider()) })
	b.Run("metrics", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		defer mp.Shutdown(context.Background())
		benchSDKBoolean(b, mp)
	})
}

func benchSDKBoolean(b *testing.B, mp metric.MeterProvider) {
	p := flags.NewProvider(flags.FileSource("testdata/flags.json"),
		flags.WithLogger(slog.New(slog.DiscardHandler)), flags.WithMeterProvider(mp))
	ctx := context.Background()
	api := isolated.NewAPI()
	defer api.Shutdown(ctx)
	if err := api.SetProviderAndWait(ctx, p); err != nil {
		b.Fatal(err)
	}
	client := api.NewClient()
	ec := openfeature.NewEvaluationContext("user-1", map[string]any{"country": "FR"})
	b.ReportAllocs()
	for b.Loop() {
		client.Boolean(ctx, "new-checkout", false, ec)
	}
}
