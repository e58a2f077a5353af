package tick

import (
	"context"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// collected is what the job recorded, keyed by the distinguishing attribute.
type collected struct {
	runs      int64
	failures  map[string]int64 // by error.type
	skipped   map[string]int64 // by chassis.tick.reason
	outcomes  map[string]int64 // duration count by chassis.tick.outcome
	durations int64
	age       float64
}

func (h *harness) metrics() collected {
	h.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		h.t.Fatalf("Collect() = %v", err)
	}
	c := collected{failures: map[string]int64{}, skipped: map[string]int64{}, outcomes: map[string]int64{}}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != scope {
			continue
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if v, _ := p.Attributes.Value("chassis.job"); v.AsString() != h.job.name {
						h.t.Errorf("%s: chassis.job = %q; want %q", m.Name, v.AsString(), h.job.name)
					}
					switch m.Name {
					case "chassis.tick.runs":
						c.runs += p.Value
					case "chassis.tick.failures":
						v, _ := p.Attributes.Value("error.type")
						c.failures[v.AsString()] += p.Value
					case "chassis.tick.skipped":
						v, _ := p.Attributes.Value("chassis.tick.reason")
						c.skipped[v.AsString()] += p.Value
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					v, _ := p.Attributes.Value("chassis.tick.outcome")
					c.outcomes[v.AsString()] += int64(p.Count)
					c.durations += int64(p.Count)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					c.age = p.Value
				}
			}
		}
	}
	return c
}
