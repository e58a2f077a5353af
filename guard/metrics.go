package guard

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// limiterScope is the instrumentation scope of the rate limiting metrics.
const limiterScope = "github.com/chassis-go/chassis/guard"

// decisionCounter counts rate limit decisions on chassis.ratelimit.decisions
// with pre-built attribute sets, so that counting allocates nothing.
type decisionCounter struct {
	counter                 metric.Int64Counter
	allowed, denied, failed []metric.AddOption
}

func newDecisionCounter(mp metric.MeterProvider, limiter string) decisionCounter {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	c, err := mp.Meter(limiterScope).Int64Counter("chassis.ratelimit.decisions",
		metric.WithUnit("{decision}"),
		metric.WithDescription("Rate limit decisions, by outcome."))
	if err != nil {
		otel.Handle(err)
		c = noop.Int64Counter{}
	}
	opts := func(decision string) []metric.AddOption {
		return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String("chassis.decision", decision),
			attribute.String("chassis.limiter", limiter)))}
	}
	return decisionCounter{counter: c, allowed: opts("allowed"), denied: opts("denied"), failed: opts("error")}
}
