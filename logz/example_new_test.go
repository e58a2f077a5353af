package logz_test

import (
	"context"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/trace"

	"github.com/chassis-go/chassis/logz"
)

// noTime removes the time so that the output is deterministic.
func noTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

func ExampleNew() {
	logger := logz.New(os.Stdout, &logz.Options{
		HandlerOptions: slog.HandlerOptions{ReplaceAttr: noTime},
	})
	// In a service, ctx is a request context with a span from otelhttp.
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)

	reqLog := logger.With("svc", "users").WithGroup("req")
	reqLog.InfoContext(ctx, "login", "user", "ann", "password", "hunter2")
	logger.Debug("not logged at info")
	// Output:
	// {"level":"INFO","msg":"login","svc":"users","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","req":{"user":"ann","password":"[REDACTED]"}}
}

// A *slog.LevelVar as the Level lets the service change the level at run
// time, for example from an admin endpoint.
func ExampleNew_levelVar() {
	var level slog.LevelVar
	level.Set(slog.LevelWarn)
	logger := logz.New(os.Stdout, &logz.Options{
		HandlerOptions: slog.HandlerOptions{Level: &level, ReplaceAttr: noTime},
		Text:           true,
	})
	logger.Info("dropped")
	level.Set(slog.LevelDebug) // from any goroutine
	logger.Debug("now visible")
	// Output: level=DEBUG msg="now visible"
}

// Correlation lives in the handler and reads the record's context, so it
// survives wrapping: here a multi-handler logs each record twice, and each
// copy has the ids once.
func ExampleNewHandler_multi() {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	h := logz.NewHandler(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}))
	logger := slog.New(slog.NewMultiHandler(h, h.WithAttrs([]slog.Attr{slog.String("copy", "2")})))
	logger.InfoContext(ctx, "hello")
	// Output:
	// level=INFO msg=hello trace_id=01000000000000000000000000000000 span_id=0200000000000000
	// level=INFO msg=hello copy=2 trace_id=01000000000000000000000000000000 span_id=0200000000000000
}

func ExampleNewHandler() {
	h := logz.NewHandler(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}), "ssn")
	slog.New(h).Info("patient", "name", "ann", "SSN", "078-05-1120", "session_token", "t0k")
	// Output: level=INFO msg=patient name=ann SSN=[REDACTED] session_token=[REDACTED]
}
