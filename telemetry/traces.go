package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newSpanExporter builds the span exporter selected by the environment, or
// returns nil when spans are not exported:
//
//   - OTEL_TRACES_EXPORTER set: autoexport builds what it names (otlp,
//     console, none); "none" yields nil.
//   - unset, but OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set: otlp, autoexport's default.
//   - otherwise: nil. Spans are still created, sampled and propagated (log
//     correlation keeps working); they are just not sent anywhere.
func newSpanExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	if err := checkSingle(envTracesExporter); err != nil {
		return nil, err
	}
	exp, err := autoexport.NewSpanExporter(ctx, autoexport.WithFallbackSpanExporter(
		func(ctx context.Context) (sdktrace.SpanExporter, error) {
			if !isSet(envOTLPEndpoint, envOTLPTracesEndpoint) {
				return nil, nil
			}
			// Without a fallback autoexport builds its default, otlp,
			// honouring OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL.
			exp, err := autoexport.NewSpanExporter(ctx)
			if err != nil {
				return nil, fmt.Errorf("default otlp exporter (an OTLP endpoint is set): %w", err)
			}
			return exp, nil
		}))
	if err != nil {
		return nil, &EnvError{Var: envTracesExporter, Value: os.Getenv(envTracesExporter), Err: err}
	}
	if exp == nil || autoexport.IsNoneSpanExporter(exp) {
		return nil, nil
	}
	return exp, nil
}

// abortableExporter lets shutdownTraces cut short exports the SDK would
// otherwise let run past the caller's deadline.
//
// On shutdown the batch span processor drains its queue with its own
// context (context.Background plus OTEL_BSP_EXPORT_TIMEOUT, 30s by default),
// not the caller's, and calls the exporter's Shutdown only after that. With
// an unreachable collector TracerProvider.Shutdown(ctx) returns at ctx's
// deadline while a goroutine keeps retrying and the exporter's connection
// stays open. Every context the SDK hands to this exporter is also canceled
// by abort, so shutdownTraces can stop that work and wait for it to end.
type abortableExporter struct {
	sdktrace.SpanExporter
	aborted context.Context
	abort   context.CancelCauseFunc
}

func newAbortableExporter(e sdktrace.SpanExporter) *abortableExporter {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &abortableExporter{SpanExporter: e, aborted: ctx, abort: cancel}
}

// bind returns ctx, additionally canceled (with abort's cause) by abort.
func (e *abortableExporter) bind(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(e.aborted, func() { cancel(context.Cause(e.aborted)) })
	return ctx, func() { stop(); cancel(nil) }
}

func (e *abortableExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	ctx, done := e.bind(ctx)
	defer done()
	return e.SpanExporter.ExportSpans(ctx, spans)
}

func (e *abortableExporter) Shutdown(ctx context.Context) error {
	ctx, done := e.bind(ctx)
	defer done()
	return e.SpanExporter.Shutdown(ctx)
}

// shutdownTraces shuts tp down within ctx and returns only once its batch
// processor goroutine and exporter have stopped.
//
// tp.Shutdown runs with ctx's values but not its cancellation, so the SDK
// always completes its shutdown sequence (a done ctx would make it skip
// processors and leak their goroutines). If ctx ends first, exp's in-flight
// and remaining calls are canceled, which makes the sequence finish
// promptly; the error then wraps ctx.Err().
func shutdownTraces(ctx context.Context, tp *sdktrace.TracerProvider, exp *abortableExporter) error {
	done := make(chan error, 1)
	go func() { done <- tp.Shutdown(context.WithoutCancel(ctx)) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	if exp != nil {
		exp.abort(context.Cause(ctx))
	}
	err := <-done
	if err == nil || errors.Is(err, ctx.Err()) {
		return ctx.Err()
	}
	return errors.Join(ctx.Err(), err)
}
