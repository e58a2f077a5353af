package telemetry

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// The OTEL_* parsers are white-box fuzzed: their inputs come from the
// deployment environment, which is not attacker-controlled, but a panic at
// startup on an odd value would still take a service down.

func FuzzParsePropagators(f *testing.F) {
	for _, s := range []string{"", "tracecontext", "baggage", "none", "tracecontext,baggage", " TraceContext , none ", "b3", ",,", "tracecontext,b3multi", "\x00"} {
		f.Add(s)
	}
	known := map[string]bool{"traceparent": true, "tracestate": true, "baggage": true}
	f.Fuzz(func(t *testing.T, v string) {
		p, err := parsePropagators(v)
		if err != nil {
			var envErr *EnvError
			if !errors.As(err, &envErr) || envErr.Var != envPropagators || envErr.Value != v {
				t.Fatalf("parsePropagators(%q) err = %#v; want *EnvError for %s with the value", v, err, envPropagators)
			}
			return
		}
		for _, f := range p.Fields() {
			if !known[f] {
				t.Fatalf("parsePropagators(%q).Fields() has %q; want only tracecontext and baggage fields", v, f)
			}
		}
	})
}

func FuzzCheckSampler(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"always_on", ""}, {"traceidratio", "0.5"}, {"parentbased_traceidratio", "NaN"}, {"traceidratio", "-0"}, {"traceidratio", "1e-300"}, {"xray", ""}, {"TraceIDRatio", " 1 "}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, sampler, arg string) {
		err := checkSampler(sampler, arg)
		s := strings.ToLower(strings.TrimSpace(sampler))
		if s != "traceidratio" && s != "parentbased_traceidratio" {
			return
		}
		a := strings.TrimSpace(arg)
		r, perr := strconv.ParseFloat(a, 64)
		valid := a == "" || (perr == nil && r >= 0 && r <= 1)
		if (err == nil) != valid {
			t.Fatalf("checkSampler(%q, %q) = %v; want valid=%v", sampler, arg, err, valid)
		}
	})
}
