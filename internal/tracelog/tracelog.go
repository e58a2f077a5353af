// Package tracelog adds OpenTelemetry trace correlation to log records for
// the chassis middleware (httpkit, grpckit) that write their own access and
// panic records, without duplicating what a correlating handler such as
// logz's already adds.
package tracelog

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// HandlerAdds reports whether logger's handler adds trace_id and span_id
// from the context by itself, which a handler announces with a method
// AddsTraceContext() bool that returns true (logz's does).
func HandlerAdds(logger *slog.Logger) bool {
	h, ok := logger.Handler().(interface{ AddsTraceContext() bool })
	return ok && h.AddsTraceContext()
}

// Append appends trace_id and span_id of ctx's span to attrs, if the span
// context is valid.
func Append(attrs []slog.Attr, ctx context.Context) []slog.Attr {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return attrs
	}
	return append(attrs,
		slog.String("trace_id", sc.TraceID().String()),
		slog.String("span_id", sc.SpanID().String()))
}
