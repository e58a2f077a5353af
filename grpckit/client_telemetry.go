package grpckit

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/chassis-go/chassis/breaker"
)

// clientInstruments are the counters of the client interceptor, under the
// package's scope, with attribute sets cached so that recording allocates
// nothing after a method's first use.
type clientInstruments struct {
	retries     metric.Int64Counter
	hedges      metric.Int64Counter
	exhausted   metric.Int64Counter
	transitions metric.Int64Counter
	rejections  metric.Int64Counter
	methods     sync.Map     // full method → metric.AddOption (rpc.method)
	nMethods    atomic.Int32 // entries in methods, at most maxMethods
	otherOpt    metric.AddOption
}

// maxMethods bounds the methods a client keeps state for (metric attribute
// sets, idempotency lookups), so that a proxy forwarding whatever method
// names its callers send cannot grow it without bound; methods beyond it
// are counted as rpc.method "_OTHER".
const maxMethods = 1000

func newClientInstruments(mp metric.MeterProvider) *clientInstruments {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(scope)
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		if err != nil {
			otel.Handle(err)
			c, _ = noop.Meter{}.Int64Counter(name)
		}
		return c
	}
	return &clientInstruments{
		otherOpt:    metric.WithAttributeSet(attribute.NewSet(attribute.String("rpc.method", "_OTHER"))),
		retries:     counter("chassis.grpc.client.retries", "{retry}", "Retries of unary calls sent by grpckit's client interceptor, after the first try."),
		hedges:      counter("chassis.grpc.client.hedges", "{call}", "Hedged attempts of unary calls sent while an earlier attempt had no answer."),
		exhausted:   counter("chassis.grpc.client.retry_budget.exhausted", "{hedge}", "Hedges not sent because the retry budget was spent."),
		transitions: counter("chassis.grpc.client.breaker.transitions", "{transition}", "Circuit breaker state changes of a gRPC target, by new state."),
		rejections:  counter("chassis.grpc.client.breaker.rejections", "{call}", "Attempts of unary calls refused by an open circuit breaker."),
	}
}

// methodOpt returns the rpc.method attribute of a full method, in the
// form otelgrpc uses ("pkg.Service/Method").
func (in *clientInstruments) methodOpt(method string) metric.AddOption {
	if v, ok := in.methods.Load(method); ok {
		return v.(metric.AddOption)
	}
	if in.nMethods.Add(1) > maxMethods {
		in.nMethods.Add(-1)
		return in.otherOpt
	}
	opt := metric.WithAttributeSet(attribute.NewSet(attribute.String("rpc.method", strings.TrimPrefix(method, "/"))))
	v, loaded := in.methods.LoadOrStore(method, opt)
	if loaded {
		in.nMethods.Add(-1)
	}
	return v.(metric.AddOption)
}

func (in *clientInstruments) retried(ctx context.Context, method string) {
	in.retries.Add(ctx, 1, in.methodOpt(method))
}

func (in *clientInstruments) hedged(ctx context.Context, method string) {
	in.hedges.Add(ctx, 1, in.methodOpt(method))
}

func (in *clientInstruments) budgetExhausted(ctx context.Context, method string) {
	in.exhausted.Add(ctx, 1, in.methodOpt(method))
}

func (in *clientInstruments) rejected(ctx context.Context, tb *targetBreaker) {
	in.rejections.Add(ctx, 1, tb.targetOpt)
}

func (in *clientInstruments) transition(tb *targetBreaker, to breaker.State) {
	if int(to) < len(tb.stateOpts) {
		in.transitions.Add(context.Background(), 1, tb.stateOpts[to])
	}
}
