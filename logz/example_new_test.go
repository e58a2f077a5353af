package logz_test

import (
	"context"
	"fmt"
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
	logger, err := logz.New("info", logz.WithWriter(os.Stdout), logz.WithReplaceAttr(noTime))
	if err != nil {
		fmt.Println(err)
		return
	}
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

func ExampleNew_unknownLevel() {
	_, err := logz.New("verbose")
	fmt.Println(err)
	// Output: logz: unknown level "verbose"; want debug, info, warn or error, optionally with an offset such as info+2
}

func ExampleWithLevelVar() {
	var level slog.LevelVar
	logger, err := logz.New("warn", logz.WithLevelVar(&level), logz.WithText(),
		logz.WithWriter(os.Stdout), logz.WithReplaceAttr(noTime))
	if err != nil {
		fmt.Println(err)
		return
	}
	logger.Info("dropped")
	level.Set(slog.LevelDebug) // e.g. from an admin endpoint
	logger.Debug("now visible")
	// Output: level=DEBUG msg="now visible"
}

func ExampleNewHandler() {
	h := logz.NewHandler(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}), "ssn")
	slog.New(h).Info("patient", "name", "ann", "SSN", "078-05-1120", "session_token", "t0k")
	// Output: level=INFO msg=patient name=ann SSN=[REDACTED] session_token=[REDACTED]
}
