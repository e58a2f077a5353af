package tracelog_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/internal/tracelog"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHandlerAdds(t *testing.T) {
	plain := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if tracelog.HandlerAdds(plain) {
		t.Error("HandlerAdds(JSONHandler) = true; want false")
	}
	// logz.Handler no longer announces itself (it needs no help: it adds
	// no second trace_id to a record that has one); a handler that does is
	// still detected.
	if !tracelog.HandlerAdds(slog.New(marked{slog.NewJSONHandler(io.Discard, nil)})) {
		t.Error("HandlerAdds(handler with AddsTraceContext) = false; want true")
	}
}

type marked struct{ slog.Handler }

func (marked) AddsTraceContext() bool { return true }

func TestAppend(t *testing.T) {
	if got := tracelog.Append(nil, context.Background()); len(got) != 0 {
		t.Errorf("Append(no span) = %v; want nothing", got)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5}, TraceFlags: trace.FlagsSampled,
	})
	got := tracelog.Append(nil, trace.ContextWithSpanContext(context.Background(), sc))
	if len(got) != 2 || got[0].Value.String() != sc.TraceID().String() || got[1].Value.String() != sc.SpanID().String() {
		t.Errorf("Append(span) = %v; want trace_id and span_id of %v", got, sc)
	}
}
