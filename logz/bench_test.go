package logz_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/chassis-go/chassis/logz"
)

// BenchmarkLog compares a log call with 5 attributes through logz.New with
// the same call through a plain slog.JSONHandler, both writing to io.Discard.
func BenchmarkLog(b *testing.B) {
	plain := slog.New(slog.NewJSONHandler(io.Discard, nil))
	chassis := logz.New(io.Discard, nil)
	span := spanCtx()
	bg := context.Background()
	call := func(l *slog.Logger, ctx context.Context) {
		l.LogAttrs(ctx, slog.LevelInfo, "request done",
			slog.String("method", "GET"),
			slog.String("path", "/users/{id}"),
			slog.Int("status", 200),
			slog.Int64("bytes", 1234),
			slog.Float64("duration_ms", 12.5),
		)
	}
	cases := []struct {
		name string
		l    *slog.Logger
		ctx  context.Context
	}{
		{"slog.JSONHandler/span", plain, span},
		{"logz/span", chassis, span},
		{"logz/no-span", chassis, bg},
		{"slog.JSONHandler/group/span", plain.With("svc", "api").WithGroup("req"), span},
		{"logz/group/span", chassis.With("svc", "api").WithGroup("req"), span},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				call(c.l, c.ctx)
			}
		})
	}
}
