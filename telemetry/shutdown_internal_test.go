package telemetry

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// White-box: Shutdown's scheduling of the per-signal flushers, and
// shutdownTraces against an exporter that blocks until its context ends.

func TestShutdown_flushersRunConcurrentlyAndJoin(t *testing.T) {
	t.Parallel()
	errTraces := errors.New("traces failed")
	errMetrics := errors.New("metrics failed")
	metricsRan := make(chan struct{})
	var calls atomic.Int32
	p := &Provider{flushers: []func(context.Context) error{
		func(ctx context.Context) error {
			calls.Add(1)
			// A slow trace flush: it finishes only once the metrics flush
			// has run, which deadlocks (until ctx ends) if the two run in
			// sequence.
			select {
			case <-metricsRan:
				return errTraces
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		func(ctx context.Context) error {
			calls.Add(1)
			defer close(metricsRan)
			if ctx.Err() != nil {
				t.Errorf("metrics flusher got a done ctx (%v); want the caller's live ctx", ctx.Err())
			}
			return errMetrics
		},
	}}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := p.Shutdown(ctx)
	if !errors.Is(err, errTraces) || !errors.Is(err, errMetrics) {
		t.Errorf("Shutdown() = %v; want both %v and %v joined", err, errTraces, errMetrics)
	}

	// Idempotent: same result, flushers not run again, also when concurrent.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if again := p.Shutdown(t.Context()); again != err {
				t.Errorf("repeated Shutdown() = %v; want the first result %v", again, err)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 2 {
		t.Errorf("flushers called %d times; want 2 (once each)", n)
	}
}

// stuckExporter blocks every export until its context ends and records
// whether Shutdown was called.
type stuckExporter struct {
	exports  atomic.Int32
	shutdown atomic.Bool
}

func (e *stuckExporter) ExportSpans(ctx context.Context, _ []sdktrace.ReadOnlySpan) error {
	e.exports.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

func (e *stuckExporter) Shutdown(context.Context) error {
	e.shutdown.Store(true)
	return nil
}

func TestShutdownTraces_abortsStuckExport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ctx  func(context.Context) (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, 50*time.Millisecond)
		}, context.DeadlineExceeded},
		{"already canceled", func(ctx context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inner := &stuckExporter{}
			exp := newAbortableExporter(inner)
			// Explicit options: the test must not depend on OTEL_TRACES_SAMPLER
			// or OTEL_BSP_* in the process environment.
			tp := sdktrace.NewTracerProvider(
				sdktrace.WithSampler(sdktrace.AlwaysSample()),
				sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(16), sdktrace.WithMaxExportBatchSize(16)),
			)
			_, span := tp.Tracer("test").Start(t.Context(), "op")
			span.End()

			ctx, cancel := tc.ctx(t.Context())
			defer cancel()
			err := shutdownTraces(ctx, tp, exp)
			if !errors.Is(err, tc.want) {
				t.Errorf("shutdownTraces(%s) = %v; want %v", tc.name, err, tc.want)
			}
			// shutdownTraces returns only after the exporter is shut down,
			// i.e. after the batch processor's goroutine is done.
			if !inner.shutdown.Load() {
				t.Errorf("shutdownTraces(%s) returned before the exporter's Shutdown was called", tc.name)
			}
			if n := inner.exports.Load(); n != 1 {
				t.Errorf("exports = %d; want 1 (the span, drained at shutdown)", n)
			}
		})
	}
}

func TestShutdownTraces_completesWithinDeadline(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider()
	if err := shutdownTraces(t.Context(), tp, nil); err != nil {
		t.Errorf("shutdownTraces(no processor) = %v; want nil", err)
	}
}
