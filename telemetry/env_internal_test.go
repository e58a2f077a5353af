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

// FuzzCheckEndpoint checks that checkEndpoint never panics, rejects every
// value with userinfo, and never shows what stands before the last '@'.
func FuzzCheckEndpoint(f *testing.F) {
	for _, s := range []string{"", "http://collector:4318", "https://user:pw@collector:badport", "collector:4317", "http://[::1", "http://h:0", "user:pw@h", "https://a@b@c/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		err := checkEndpoint(envOTLPEndpoint, v)
		at := strings.LastIndex(v, "@")
		if at < 0 {
			return
		}
		if err == nil {
			t.Fatalf("checkEndpoint(%q) = nil; want an error for userinfo", v)
		}
		// The value shown keeps only the scheme and what follows the '@';
		// the reason is a fixed text.
		var envErr *EnvError
		if !errors.As(err, &envErr) || !strings.HasPrefix(envErr.Err.Error(), "credentials in the endpoint URL") {
			t.Fatalf("checkEndpoint(%q) = %v; want the credentials EnvError", v, err)
		}
		prefix := ""
		if i := strings.Index(v, "://"); i >= 0 && i < at {
			prefix = v[:i+3]
		}
		if want := prefix + "xxxxx" + v[at:]; envErr.Value != want {
			t.Fatalf("checkEndpoint(%q).Value = %q; want %q", v, envErr.Value, want)
		}
	})
}
