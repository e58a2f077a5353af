package work_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/chassis-go/chassis/work"
)

func newRecorder() (*tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	rec := tracetest.NewSpanRecorder()
	return rec, sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
}

// checkTree checks that the recorder holds one span named call, a child of
// parent, with n children named call+".item".
func checkTree(t *testing.T, rec *tracetest.SpanRecorder, parent trace.SpanContext, call string, n int) (callSpan sdktrace.ReadOnlySpan, items []sdktrace.ReadOnlySpan) {
	t.Helper()
	for _, s := range rec.Ended() {
		if s.Name() == call {
			if callSpan != nil {
				t.Fatalf("more than one %s span", call)
			}
			callSpan = s
		}
	}
	if callSpan == nil {
		t.Fatalf("no %s span among %d ended spans", call, len(rec.Ended()))
	}
	if got := callSpan.Parent().SpanID(); got != parent.SpanID() {
		t.Errorf("%s parent = %v; want %v", call, got, parent.SpanID())
	}
	for _, s := range rec.Ended() {
		if s.Name() != call+".item" {
			continue
		}
		items = append(items, s)
		if s.Parent().SpanID() != callSpan.SpanContext().SpanID() {
			t.Errorf("%s parent = %v; want the %s span %v", s.Name(), s.Parent().SpanID(), call, callSpan.SpanContext().SpanID())
		}
	}
	if len(items) != n {
		t.Errorf("%d %s.item spans; want %d", len(items), call, n)
	}
	return callSpan, items
}

func indexOf(s sdktrace.ReadOnlySpan) int64 {
	for _, kv := range s.Attributes() {
		if kv.Key == "chassis.work.index" {
			return kv.Value.AsInt64()
		}
	}
	return -1
}

func TestTracingMap(t *testing.T) {
	t.Parallel()
	rec, tp := newRecorder()
	ctx, parent := tp.Tracer("test").Start(t.Context(), "parent")
	_, err := work.Map(ctx, []int{0, 1, 2, 3}, func(ctx context.Context, i int) (int, error) {
		if !trace.SpanFromContext(ctx).IsRecording() {
			t.Errorf("item %d ctx has no recording span", i)
		}
		if i == 2 {
			return 0, errBoom
		}
		return i, nil
	}, work.Workers(2), work.WithTracerProvider(tp))
	parent.End()
	if err == nil {
		t.Fatal("Map() = nil; want item 2's error")
	}
	call, items := checkTree(t, rec, parent.SpanContext(), "work.Map", 4)
	if call.Status().Code != codes.Error {
		t.Errorf("work.Map status = %v; want Error", call.Status())
	}
	for _, s := range items {
		want := codes.Unset
		if indexOf(s) == 2 {
			want = codes.Error
		}
		if s.Status().Code != want {
			t.Errorf("item %d status = %v; want %v", indexOf(s), s.Status().Code, want)
		}
	}
}

func TestTracingAll(t *testing.T) {
	t.Parallel()
	rec, tp := newRecorder()
	ctx, parent := tp.Tracer("test").Start(t.Context(), "parent")
	task := func(context.Context) error { return nil }
	if err := work.All(ctx, []func(context.Context) error{task, task, task}, work.WithTracerProvider(tp)); err != nil {
		t.Fatalf("All() = %v; want nil", err)
	}
	parent.End()
	checkTree(t, rec, parent.SpanContext(), "work.All", 3)
}

func TestTracingStream(t *testing.T) {
	t.Parallel()
	for _, ordered := range []bool{false, true} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			t.Parallel()
			rec, tp := newRecorder()
			ctx, parent := tp.Tracer("test").Start(t.Context(), "parent")
			opts := []work.Option{work.Workers(3), work.WithTracerProvider(tp)}
			if ordered {
				opts = append(opts, work.Ordered())
			}
			out := work.Stream(ctx, feed(seq(5)...), func(ctx context.Context, i int) (int, error) {
				return i, nil
			}, opts...)
			for range out {
			}
			parent.End()
			checkTree(t, rec, parent.SpanContext(), "work.Stream", 5)
		})
	}
}

// endNotifier is a SpanRecorder that also reports each ended span's name.
type endNotifier struct {
	*tracetest.SpanRecorder
	ended chan string
}

func (n endNotifier) OnEnd(s sdktrace.ReadOnlySpan) {
	n.SpanRecorder.OnEnd(s)
	n.ended <- s.Name()
}

// TestTracingRace uses the global provider, as Race takes no options, so it
// does not run in parallel and restores a no-op provider.
func TestTracingRace(t *testing.T) {
	rec := endNotifier{tracetest.NewSpanRecorder(), make(chan string, 10)}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	ctx, parent := tp.Tracer("test").Start(t.Context(), "parent")
	v, err := work.Race(ctx,
		func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		},
		func(context.Context) (int, error) { return 1, nil },
	)
	if v != 1 || err != nil {
		t.Fatalf("Race() = %v, %v; want 1, nil", v, err)
	}
	parent.End()
	// Wait for both item spans, the call span and the parent: the loser's
	// span ends after Race has returned.
	for range 4 {
		<-rec.ended
	}
	checkTree(t, rec.SpanRecorder, parent.SpanContext(), "work.Race", 2)
}

func TestTracingOffHasNoPerItemCost(t *testing.T) {
	// Not parallel: AllocsPerRun is disturbed by concurrent allocations.
	if testing.Short() {
		t.Skip("allocation counts")
	}
	tp := noop.NewTracerProvider()
	allocs := func(n int) float64 {
		items := make([]int, n)
		return testing.AllocsPerRun(20, func() {
			_, _ = work.Map(context.Background(), items, func(_ context.Context, i int) (int, error) {
				return i, nil
			}, work.Workers(1), work.WithTracerProvider(tp))
		})
	}
	small, large := allocs(10), allocs(1000)
	if small != large {
		t.Errorf("Map allocs with tracing off: %v for 10 items, %v for 1000; want equal (no per-item cost)", small, large)
	}
}

func TestInflightMetric(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	inflight := func() (int64, attribute.Set) {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatalf("Collect() = %v", err)
		}
		for _, sm := range rm.ScopeMetrics {
			if sm.Scope.Name != "github.com/chassis-go/chassis/work" {
				continue
			}
			for _, m := range sm.Metrics {
				if m.Name != "chassis.work.inflight" {
					continue
				}
				if m.Unit != "{task}" {
					t.Errorf("chassis.work.inflight unit = %q; want {task}", m.Unit)
				}
				sum := m.Data.(metricdata.Sum[int64])
				if sum.IsMonotonic {
					t.Error("chassis.work.inflight is monotonic; want an UpDownCounter")
				}
				for _, dp := range sum.DataPoints {
					return dp.Value, dp.Attributes
				}
			}
		}
		return -1, attribute.Set{}
	}

	const n = 3
	var started atomic.Int64
	all, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- work.All(t.Context(), []func(context.Context) error{
			func(context.Context) error { return wait(&started, n, all, release) },
			func(context.Context) error { return wait(&started, n, all, release) },
			func(context.Context) error { return wait(&started, n, all, release) },
		}, work.Workers(n), work.WithMeterProvider(mp))
	}()
	<-all
	v, attrs := inflight()
	if op, _ := attrs.Value("chassis.work.op"); v != n || op.AsString() != "all" {
		t.Errorf("inflight while running = %d %v; want %d with chassis.work.op=all", v, attrs, n)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("All() = %v; want nil", err)
	}
	if v, _ := inflight(); v != 0 {
		t.Errorf("inflight after All returned = %d; want 0", v)
	}
}

// wait counts itself as started, closes all when the nth has started, then
// waits for release.
func wait(started *atomic.Int64, n int64, all, release chan struct{}) error {
	if started.Add(1) == n {
		close(all)
	}
	<-release
	return nil
}

func TestErrorsText(t *testing.T) {
	t.Parallel()
	e := func(i int, msg string) *work.ItemError { return &work.ItemError{Index: i, Err: errors.New(msg)} }
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"item", e(3, "x"), "work: item 3: x"},
		{"one", &work.Errors{Errs: []*work.ItemError{e(1, "x")}}, "work: 1 item failed: item 1: x"},
		{"two", &work.Errors{Errs: []*work.ItemError{e(1, "x"), e(4, "y")}}, "work: 2 items failed: item 1: x; item 4: y"},
		{"many", &work.Errors{Errs: []*work.ItemError{e(0, "a"), e(1, "b"), e(2, "c"), e(3, "d"), e(4, "e")}},
			"work: 5 items failed: item 0: a; item 1: b; item 2: c; and 2 more"},
		{"panic", &work.PanicError{Value: "oops"}, "work: panic: oops"},
		{"no tasks", work.ErrNoTasks, "work: no tasks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q; want %q", got, tc.want)
			}
		})
	}
}
