package work

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// scope is the instrumentation scope of the tracer and the meter.
const scope = "github.com/chassis-go/chassis/work"

// op names one entry point.
type op uint8

const (
	opMap op = iota
	opAll
	opRace
	opStream
)

// spanName returns the name of the call span; item spans append ".item".
func (o op) spanName() string {
	switch o {
	case opMap:
		return "work.Map"
	case opAll:
		return "work.All"
	case opRace:
		return "work.Race"
	default:
		return "work.Stream"
	}
}

func (o op) itemName() string {
	switch o {
	case opMap:
		return "work.Map.item"
	case opAll:
		return "work.All.item"
	case opRace:
		return "work.Race.item"
	default:
		return "work.Stream.item"
	}
}

// attr returns the chassis.work.op attribute value.
func (o op) attr() string {
	switch o {
	case opMap:
		return "map"
	case opAll:
		return "all"
	case opRace:
		return "race"
	default:
		return "stream"
	}
}

// Attribute keys. Values are bounded: op is one of four strings, and
// indices and counts are recorded on spans only, never on metrics.
const (
	attrOp      = attribute.Key("chassis.work.op")
	attrIndex   = attribute.Key("chassis.work.index")
	attrItems   = attribute.Key("chassis.work.items")
	attrWorkers = attribute.Key("chassis.work.workers")
	attrOrdered = attribute.Key("chassis.work.ordered")
)

// telemetry holds what one call records: the call span, the tracer for item
// spans (used only when the call span records) and the inflight counter
// (nil when no SDK would process its measurements).
type telemetry struct {
	tracer    trace.Tracer
	span      trace.Span
	recording bool
	itemName  string
	inflight  metric.Int64UpDownCounter
	attrs     []metric.AddOption
}

// startCall starts the call span as a child of ctx's span and returns the
// context carrying it. Callers set the span's attributes only if
// t.recording, so that nothing is built for a span that drops them. When nothing records, the cost is the provider
// look-ups and one non-recording span; no per-item work is done.
func startCall(ctx context.Context, c *config, o op) (context.Context, telemetry) {
	tp := c.tp
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := telemetry{tracer: tp.Tracer(scope), itemName: o.itemName()}
	ctx, t.span = t.tracer.Start(ctx, o.spanName())
	t.recording = t.span.IsRecording()

	mp := c.mp
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	inflight, err := mp.Meter(scope).Int64UpDownCounter("chassis.work.inflight",
		metric.WithUnit("{task}"),
		metric.WithDescription("Number of work items whose function is running, by entry point."))
	if err != nil {
		otel.Handle(err)
	} else if inflight.Enabled(ctx) {
		t.inflight = inflight
		t.attrs = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attrOp.String(o.attr())))}
	}
	return ctx, t
}

// end records err on the call span and ends it.
func (t *telemetry) end(err error) {
	if t.recording && err != nil {
		t.span.SetStatus(codes.Error, err.Error())
	}
	t.span.End()
}

// add changes the inflight count by delta.
func (t *telemetry) add(ctx context.Context, delta int64) {
	if t.inflight != nil {
		t.inflight.Add(ctx, delta, t.attrs...)
	}
}

// startSpan starts the span of item i if the call span records; the
// returned span is nil otherwise.
func (t *telemetry) startSpan(ctx context.Context, i int) (context.Context, trace.Span) {
	if !t.recording {
		return ctx, nil
	}
	return t.tracer.Start(ctx, t.itemName, trace.WithAttributes(attrIndex.Int(i)))
}

// endSpan records err on an item span from startSpan and ends it.
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// startItem is startSpan plus counting the item as in flight.
func (t *telemetry) startItem(ctx context.Context, i int) (context.Context, trace.Span) {
	ctx, span := t.startSpan(ctx, i)
	t.add(ctx, 1)
	return ctx, span
}

// endItem undoes startItem.
func (t *telemetry) endItem(ctx context.Context, span trace.Span, err error) {
	t.add(ctx, -1)
	endSpan(span, err)
}
