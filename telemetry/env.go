package telemetry

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/propagation"
)

// Environment variables read by Init itself. The exporters, the batch span
// processor and the periodic metric reader read further OTEL_* variables on
// their own (see the package documentation).
const (
	envSDKDisabled         = "OTEL_SDK_DISABLED"
	envPropagators         = "OTEL_PROPAGATORS"
	envTracesExporter      = "OTEL_TRACES_EXPORTER"
	envMetricsExporter     = "OTEL_METRICS_EXPORTER"
	envTracesSampler       = "OTEL_TRACES_SAMPLER"
	envTracesSamplerArg    = "OTEL_TRACES_SAMPLER_ARG"
	envResourceAttributes  = "OTEL_RESOURCE_ATTRIBUTES"
	envOTLPEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envOTLPTracesEndpoint  = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envOTLPMetricsEndpoint = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	envOTLPLogsEndpoint    = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"
)

// EnvError reports an OTEL_* environment variable whose value Init cannot
// use: an unknown exporter, sampler or propagator name, an out-of-range
// sampler argument, a malformed OTEL_RESOURCE_ATTRIBUTES, a malformed OTLP
// endpoint, or an exporter that fails to build from its OTEL_EXPORTER_*
// settings (then Var names the exporter selection variable and Err carries
// the exporter's own error).
//
// Use [errors.As] to get at Var. Init never puts the value of
// OTEL_EXPORTER_OTLP_HEADERS (which often holds credentials) in an EnvError,
// and an endpoint's Value has its userinfo replaced by "xxxxx", whether or
// not the endpoint parses.
type EnvError struct {
	Var   string // the environment variable, e.g. "OTEL_TRACES_EXPORTER"
	Value string // its value as read from the process environment
	Err   error  // what is wrong with it
}

// Error returns "telemetry: VAR=\"value\": reason".
func (e *EnvError) Error() string {
	return fmt.Sprintf("telemetry: %s=%q: %v", e.Var, e.Value, e.Err)
}

// Unwrap returns e.Err.
func (e *EnvError) Unwrap() error { return e.Err }

// normalized returns the value of an enum-like variable trimmed and in lower
// case, as the specification asks enum values to be compared.
func normalized(key string) string {
	return strings.ToLower(strings.TrimSpace(os.Getenv(key)))
}

// isSet reports whether any of keys has a non-blank value.
func isSet(keys ...string) bool {
	for _, k := range keys {
		if strings.TrimSpace(os.Getenv(k)) != "" {
			return true
		}
	}
	return false
}

// sdkDisabled reports whether OTEL_SDK_DISABLED is "true" (case-insensitive).
// Any other value, or none, leaves the SDK enabled, as the specification says.
func sdkDisabled() bool { return normalized(envSDKDisabled) == "true" }

// parsePropagators turns an OTEL_PROPAGATORS value into a propagator. Blank
// means the default, W3C tracecontext then baggage. Entries are
// comma-separated, case-insensitive and deduplicated; "none" contributes
// nothing, so "none" alone disables propagation. Other names (b3, jaeger,
// xray, ottrace) need propagators chassis does not ship and are rejected.
func parsePropagators(v string) (propagation.TextMapPropagator, error) {
	if strings.TrimSpace(v) == "" {
		return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}), nil
	}
	var (
		props []propagation.TextMapPropagator
		seen  = map[string]bool{}
	)
	for name := range strings.SplitSeq(v, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if seen[name] {
			continue
		}
		seen[name] = true
		switch name {
		case "tracecontext":
			props = append(props, propagation.TraceContext{})
		case "baggage":
			props = append(props, propagation.Baggage{})
		case "none", "":
		default:
			return nil, &EnvError{Var: envPropagators, Value: v,
				Err: fmt.Errorf("unsupported propagator %q; use tracecontext, baggage or none", name)}
		}
	}
	return propagation.NewCompositeTextMapPropagator(props...), nil
}

// checkSampler validates OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG.
// The trace SDK reads both itself but only logs a bad value (through
// otel.Handle) and falls back to parentbased_always_on; Init turns that into
// an error instead, so a typo cannot silently change the sampling rate.
func checkSampler(sampler, arg string) error {
	switch s := strings.ToLower(strings.TrimSpace(sampler)); s {
	case "", "always_on", "always_off", "parentbased_always_on", "parentbased_always_off":
		return nil
	case "traceidratio", "parentbased_traceidratio":
		a := strings.TrimSpace(arg)
		if a == "" {
			return nil // the SDK uses ratio 1.0
		}
		r, err := strconv.ParseFloat(a, 64)
		if err != nil || math.IsNaN(r) || r < 0 || r > 1 {
			return &EnvError{Var: envTracesSamplerArg, Value: arg,
				Err: fmt.Errorf("ratio for sampler %s must be a number from 0 to 1", s)}
		}
		return nil
	default:
		return &EnvError{Var: envTracesSampler, Value: sampler,
			Err: fmt.Errorf("unsupported sampler %q; use always_on, always_off, traceidratio or their parentbased_ forms", s)}
	}
}

// checkSingle rejects a comma-separated exporter list: autoexport builds one
// exporter per signal and would report the list as an unknown name.
func checkSingle(key string) error {
	if v := os.Getenv(key); strings.Contains(v, ",") {
		return &EnvError{Var: key, Value: v, Err: errors.New("lists are not supported; name one exporter")}
	}
	return nil
}

// checkEndpoints validates the OTLP endpoint variables, the general one and
// the per-signal ones, before any exporter sees them. The exporters parse
// them leniently: a value that does not parse is logged (with its password)
// and replaced by localhost, and "collector:4317" parses as scheme
// "collector" with no host, which also means localhost. Init turns each of
// these into an *EnvError instead.
func checkEndpoints() error {
	for _, key := range []string{envOTLPEndpoint, envOTLPTracesEndpoint, envOTLPMetricsEndpoint, envOTLPLogsEndpoint} {
		if err := checkEndpoint(key, os.Getenv(key)); err != nil {
			return err
		}
	}
	return nil
}

// checkEndpoint accepts a blank value or an absolute http or https URL with
// a host, an optional port from 1 to 65535, and no userinfo: the OTLP
// exporters ignore userinfo, so credentials belong in
// OTEL_EXPORTER_OTLP_HEADERS. No error text contains the userinfo.
func checkEndpoint(key, v string) error {
	t := strings.TrimSpace(v)
	if t == "" {
		return nil
	}
	bad := func(msg string) error {
		return &EnvError{Var: key, Value: redactUserinfo(v), Err: errors.New(msg)}
	}
	if strings.Contains(t, "@") {
		// Checked before parsing: a parse error could quote part of it.
		return bad("credentials in the endpoint URL are not supported (the exporters ignore them); send them as a header in OTEL_EXPORTER_OTLP_HEADERS")
	}
	u, err := url.Parse(t)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which the EnvError shows once
		}
		return bad("not a valid URL: " + err.Error())
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return bad("want an absolute http:// or https:// URL with a host, such as http://collector:4318")
	}
	if u.Hostname() == "" {
		return bad("the URL has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad(fmt.Sprintf("port %q is not a number from 1 to 65535", p))
		}
	}
	return nil
}

// redactUserinfo returns s with everything between the scheme's "://" (or
// the start) and the last '@' replaced by "xxxxx". It works on strings that
// do not parse as URLs, and errs on the side of hiding: a password may hold
// '/', '?' or '#'.
func redactUserinfo(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		start = i + len("://")
	}
	return s[:start] + "xxxxx" + s[at:]
}
