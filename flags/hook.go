package flags

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/chassis-go/chassis/internal/instrument"

	"github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// maxCachedSets bounds the hook's cache of attribute sets (one per flag key,
// reason, variant and error code seen).
const maxCachedSets = 4096

// hook records each evaluation of the Provider's flags as a counter
// increment and, when the caller's span is recording, a span event. It
// records the flag key, the provider, the variant, the reason and the error
// code, and never anything from the evaluation context: targeting keys are
// user ids.
type hook struct {
	openfeature.UnimplementedHook
	evals metric.Int64Counter
	sets  sync.Map // evalKey -> metric.AddOption
	nsets atomic.Int64
}

type evalKey struct {
	flag, reason, variant string
	code                  openfeature.ErrorCode
}

func newHook(meter metric.Meter) *hook {
	evals := instrument.Int64Counter(meter, "chassis.flags.evaluations", "{evaluation}",
		"Flag evaluations through the OpenFeature SDK, by flag, variant, reason and error.")
	return &hook{evals: evals}
}

// Finally runs after every evaluation, successful or not.
func (h *hook) Finally(ctx context.Context, hc openfeature.HookContext, d openfeature.InterfaceEvaluationDetails, _ openfeature.HookHints) {
	k := evalKey{flag: hc.FlagKey(), reason: string(d.Reason), variant: d.Variant, code: d.ErrorCode}
	if h.evals.Enabled(ctx) { // a disabled counter needs no attributes
		h.evals.Add(ctx, 1, h.attrs(k))
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("feature_flag.evaluation", trace.WithAttributes(k.list(hc.ProviderMetadata().Name)...))
	}
}

// attrs returns the counter's attributes for k, cached.
func (h *hook) attrs(k evalKey) metric.AddOption {
	if v, ok := h.sets.Load(k); ok {
		return v.(metric.AddOption)
	}
	o := metric.WithAttributeSet(attribute.NewSet(k.list("")...))
	if h.nsets.Load() < maxCachedSets {
		if _, loaded := h.sets.LoadOrStore(k, o); !loaded {
			h.nsets.Add(1)
		}
	}
	return o
}

// list returns k as OpenTelemetry feature-flag semantic-convention
// attributes (feature_flag.provider.name only if provider is not empty).
func (k evalKey) list(provider string) []attribute.KeyValue {
	kv := make([]attribute.KeyValue, 0, 5)
	kv = append(kv, attribute.String("feature_flag.key", k.flag))
	if provider != "" {
		kv = append(kv, attribute.String("feature_flag.provider.name", provider))
	}
	reason := strings.ToLower(k.reason)
	if reason == "" {
		reason = "unknown"
	}
	kv = append(kv, attribute.String("feature_flag.result.reason", reason))
	if k.variant != "" {
		kv = append(kv, attribute.String("feature_flag.result.variant", k.variant))
	}
	if k.code != "" {
		kv = append(kv, attribute.String("error.type", strings.ToLower(string(k.code))))
	}
	return kv
}
