package flags_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/flags"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
)

// sdkClient registers p with a fresh isolated OpenFeature API, under a domain
// named after the test, and returns a client bound to it. The SDK's global
// singleton is never touched, so tests cannot see each other's providers;
// the API is shut down when the test ends.
func sdkClient(t *testing.T, p *flags.Provider) (*openfeature.EvaluationAPI, *openfeature.Client) {
	t.Helper()
	api := isolated.NewAPI()
	t.Cleanup(func() {
		if err := api.Shutdown(context.Background()); err != nil {
			t.Errorf("api.Shutdown() = %v", err)
		}
	})
	if err := api.SetProviderAndWait(t.Context(), p, openfeature.WithDomain(t.Name())); err != nil {
		t.Fatalf("SetProviderAndWait() = %v", err)
	}
	return api, api.NewClient(openfeature.WithDomain(t.Name()))
}

// writeFile writes content to a new file in a test directory and returns
// its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flags.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// result is what a test reads back from the SDK for one evaluation.
type result struct {
	value   any
	reason  openfeature.Reason
	variant string
	code    openfeature.ErrorCode
}

type evalFunc func(ctx context.Context, c *openfeature.Client, ec openfeature.EvaluationContext) result

// details is the shape of the SDK client's typed *ValueDetails methods.
type details[T any] func(*openfeature.Client, context.Context, string, T, openfeature.EvaluationContext, ...openfeature.Option) (openfeature.GenericEvaluationDetails[T], error)

func evalWith[T any](method details[T], flag string, def T) evalFunc {
	return func(ctx context.Context, c *openfeature.Client, ec openfeature.EvaluationContext) result {
		d, _ := method(c, ctx, flag, def, ec)
		return result{d.Value, d.Reason, d.Variant, d.ErrorCode}
	}
}

func boolEval(flag string, def bool) evalFunc {
	return evalWith((*openfeature.Client).BooleanValueDetails, flag, def)
}

func stringEval(flag string, def string) evalFunc {
	return evalWith((*openfeature.Client).StringValueDetails, flag, def)
}

func intEval(flag string, def int64) evalFunc {
	return evalWith((*openfeature.Client).IntValueDetails, flag, def)
}

func floatEval(flag string, def float64) evalFunc {
	return evalWith((*openfeature.Client).FloatValueDetails, flag, def)
}

func objectEval(flag string, def any) evalFunc {
	return evalWith((*openfeature.Client).ObjectValueDetails, flag, def)
}

// The bucket of each targeting key for new-checkout (salt 2026-12, total 100)
// is in TestBucket: user-4 is 2, user-8 is 14, user-0 is 32, user-1 is 83.
func TestEvaluationThroughSDK(t *testing.T) {
	p := flags.NewProvider(flags.FileSource("testdata/flags.json"))
	_, client := sdkClient(t, p)
	attrs := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	const (
		static    = openfeature.StaticReason
		match     = openfeature.TargetingMatchReason
		split     = openfeature.SplitReason
		def       = openfeature.DefaultReason
		disabled  = openfeature.DisabledReason
		errReason = openfeature.ErrorReason
	)
	tests := []struct {
		name  string
		eval  evalFunc
		key   string
		attrs map[string]any
		want  result
	}{
		{"rule variant", boolEval("new-checkout", false), "user-0", attrs("beta", true), result{true, match, "on", ""}},
		{"rule variant needs no key", boolEval("new-checkout", false), "", attrs("beta", true), result{true, match, "on", ""}},
		{"rule rollout in", boolEval("new-checkout", false), "user-8", attrs("country", "FR"), result{true, split, "on", ""}},
		{"rule rollout out", boolEval("new-checkout", true), "user-1", attrs("country", "FR"), result{false, split, "off", ""}},
		{"flag rollout out", boolEval("new-checkout", true), "user-8", attrs("country", "DE"), result{false, split, "off", ""}},
		{"flag rollout in", boolEval("new-checkout", false), "user-4", nil, result{true, split, "on", ""}},
		{"no match, beta false", boolEval("new-checkout", true), "user-0", attrs("beta", false), result{false, split, "off", ""}},
		{"rollout without key", boolEval("new-checkout", true), "", attrs("country", "FR"), result{true, errReason, "", openfeature.TargetingKeyMissingCode}},
		{"static string", stringEval("theme", "x"), "", nil, result{"dark", static, "dark", ""}},
		{"int rule", intEval("max-items", 1), "u", attrs("plan", "pro"), result{int64(200), match, "large", ""}},
		{"int default", intEval("max-items", 1), "u", attrs("plan", "free"), result{int64(20), def, "small", ""}},
		{"int as float", floatEval("max-items", 1), "u", nil, result{20.0, def, "small", ""}},
		{"float ends_with", floatEval("sample-rate", 0), "u", attrs("email", "ann@example.com"), result{0.5, match, "high", ""}},
		{"float gte int attr", floatEval("sample-rate", 0), "u", attrs("app_version", 3), result{0.5, match, "high", ""}},
		{"float gte below", floatEval("sample-rate", 0), "u", attrs("app_version", 2.5), result{0.01, def, "low", ""}},
		{"float as int", intEval("sample-rate", 7), "u", nil, result{int64(7), errReason, "", openfeature.TypeMismatchCode}},
		{"object", objectEval("limits", nil), "", nil, result{map[string]any{"rps": 100.0, "burst": 20.0, "paths": []any{"/api"}}, static, "default", ""}},
		{"disabled", boolEval("legacy-export", false), "u", nil, result{false, disabled, "", ""}},
		{"disabled wrong type", stringEval("legacy-export", "d"), "u", nil, result{"d", errReason, "", openfeature.TypeMismatchCode}},
		{"bool as string", stringEval("new-checkout", "d"), "u", nil, result{"d", errReason, "", openfeature.TypeMismatchCode}},
		{"string as bool", boolEval("theme", true), "u", nil, result{true, errReason, "", openfeature.TypeMismatchCode}},
		{"string as object", objectEval("theme", "d"), "u", nil, result{"d", errReason, "", openfeature.TypeMismatchCode}},
		{"missing flag", boolEval("nope", true), "u", nil, result{true, errReason, "", openfeature.FlagNotFoundCode}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ec := openfeature.NewEvaluationContext(tc.key, tc.attrs)
			got := tc.eval(t.Context(), client, ec)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("evaluate(key=%q, %v) = %+v; want %+v", tc.key, tc.attrs, got, tc.want)
			}
		})
	}
}

// An object flag's value is a copy: a caller that modifies it changes
// nothing for the next caller.
func TestObjectValueIsACopy(t *testing.T) {
	p := flags.NewProvider(flags.FileSource("testdata/flags.json"))
	_, client := sdkClient(t, p)
	v := client.Object(t.Context(), "limits", nil, openfeature.EvaluationContext{})
	m := v.(map[string]any)
	m["rps"] = -1.0
	m["paths"].([]any)[0] = "/changed"
	again := client.Object(t.Context(), "limits", nil, openfeature.EvaluationContext{}).(map[string]any)
	if again["rps"] != 100.0 || again["paths"].([]any)[0] != "/api" {
		t.Errorf("second Object(limits) = %v; want the file's value", again)
	}
}

// Each op, through the provider's own methods (the SDK path is covered
// above).
func TestConditionOps(t *testing.T) {
	t.Parallel()
	doc := `{"flags": {"f": {"variants": {"yes": true, "no": false}, "default": "no",
		"rules": [{"when": [{"attr": "a", "op": OP, "values": VALUES}], "variant": "yes"}]}}}`
	tests := []struct {
		op, values string
		attr       any // nil: attribute absent
		want       bool
	}{
		{`"in"`, `["x", 2, false]`, "x", true},
		{`"in"`, `["x", 2, false]`, 2, true},
		{`"in"`, `["x", 2, false]`, int64(2), true},
		{`"in"`, `["x", 2, false]`, 2.0, true},
		{`"in"`, `["x", 2, false]`, false, true},
		{`"in"`, `["x", 2, false]`, "2", false},
		{`"in"`, `["x", 2, false]`, "y", false},
		{`"in"`, `["x", 2, false]`, nil, false},
		{`"in"`, `["x"]`, []string{"x"}, false},
		{`"not_in"`, `["x"]`, "y", true},
		{`"not_in"`, `["x"]`, "x", false},
		{`"not_in"`, `["x"]`, nil, false},
		{`"starts_with"`, `["ad", "op"]`, "operator", true},
		{`"starts_with"`, `["ad"]`, "user", false},
		{`"starts_with"`, `["ad"]`, 5, false},
		{`"ends_with"`, `["@example.com"]`, "a@example.com", true},
		{`"ends_with"`, `["@example.com"]`, "a@example.org", false},
		{`"lt"`, `[10]`, 9.5, true},
		{`"lt"`, `[10]`, 10, false},
		{`"lte"`, `[10]`, 10, true},
		{`"lte"`, `[10]`, uint8(11), false},
		{`"gt"`, `[1.5]`, float32(2), true},
		{`"gt"`, `[1.5]`, 1, false},
		{`"gte"`, `[-3]`, int8(-3), true},
		{`"gte"`, `[-3]`, "5", false},
		{`"present"`, `[]`, "", true},
		{`"present"`, `[]`, nil, false},
	}
	for _, tc := range tests {
		src := strings.NewReplacer("OP", tc.op, "VALUES", tc.values).Replace(doc)
		p := flags.NewProvider(flags.FileSource(writeFile(t, src)))
		if s := p.Status(); s.LastError != "" {
			t.Fatalf("op %s values %s: Status().LastError = %q", tc.op, tc.values, s.LastError)
		}
		fc := openfeature.FlattenedContext{}
		if tc.attr != nil {
			fc["a"] = tc.attr
		}
		got := p.BooleanEvaluation(t.Context(), "f", false, fc)
		if got.Value != tc.want {
			t.Errorf("op %s values %s, a=%#v: BooleanEvaluation = %v (%s); want %v", tc.op, tc.values, tc.attr, got.Value, got.Reason, tc.want)
		}
	}
}

// Rules are tried in order; all conditions of a rule must hold; the
// targeting key is an attribute like any other.
func TestRuleOrderAndConjunction(t *testing.T) {
	t.Parallel()
	doc := `{"flags": {"tier": {"variants": {"a": "a", "b": "b", "c": "c"}, "default": "c", "rules": [
		{"when": [{"attr": "targetingKey", "op": "in", "values": ["vip"]}], "variant": "a"},
		{"when": [{"attr": "plan", "op": "in", "values": ["pro"]}, {"attr": "age", "op": "gte", "values": [18]}], "variant": "b"},
		{"when": [{"attr": "plan", "op": "present"}], "variant": "a"}
	]}}}`
	p := flags.NewProvider(flags.FileSource(writeFile(t, doc)))
	tests := []struct {
		fc   openfeature.FlattenedContext
		want string
	}{
		{openfeature.FlattenedContext{"targetingKey": "vip", "plan": "pro", "age": 30}, "a"},
		{openfeature.FlattenedContext{"plan": "pro", "age": 30}, "b"},
		{openfeature.FlattenedContext{"plan": "pro", "age": 17}, "a"},
		{openfeature.FlattenedContext{"age": 30}, "c"},
	}
	for _, tc := range tests {
		if got := p.StringEvaluation(t.Context(), "tier", "", tc.fc); got.Value != tc.want {
			t.Errorf("StringEvaluation(tier, %v) = %q; want %q", tc.fc, got.Value, tc.want)
		}
	}
}

// Rollouts are sticky: the same key always gets the same variant, and the
// share of keys in each variant follows the weights.
func TestRolloutShares(t *testing.T) {
	t.Parallel()
	doc := `{"flags": {"f": {"variants": {"on": true, "off": false}, "default": "off",
		"rollout": [{"variant": "on", "weight": 25}, {"variant": "off", "weight": 75}]}}}`
	p := flags.NewProvider(flags.FileSource(writeFile(t, doc)))
	const n = 20000
	on := 0
	for i := range n {
		fc := openfeature.FlattenedContext{"targetingKey": "user-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)}
		first := p.BooleanEvaluation(t.Context(), "f", false, fc)
		if again := p.BooleanEvaluation(t.Context(), "f", false, fc); again.Value != first.Value {
			t.Fatalf("key %v: %v then %v; want the same variant every time", fc, first.Value, again.Value)
		}
		if first.Value {
			on++
		}
	}
	// 25% of 20000 is 5000 with a standard deviation of about 61; 5 sigma.
	if on < 5000-300 || on > 5000+300 {
		t.Errorf("%d of %d keys on; want about 5000 (25%%)", on, n)
	}
}

// Bucket is the documented formula; the expected values were computed
// independently (Python: int.from_bytes(hashlib.sha256(
// f"{flag}\0{salt}\0{key}".encode()).digest()[:8], "big") % total).
func TestBucket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		flag, salt, key string
		total, want     uint64
	}{
		{"new-checkout", "2026-12", "user-0", 100, 32},
		{"new-checkout", "2026-12", "user-1", 100, 83},
		{"new-checkout", "2026-12", "user-4", 100, 2},
		{"new-checkout", "2026-12", "user-8", 100, 14},
		{"new-checkout", "", "user-1", 100, 79},
		{"a", "b", "c", 10000, 6871},
	}
	for _, tc := range tests {
		if got := flags.Bucket(tc.flag, tc.salt, tc.key, tc.total); got != tc.want {
			t.Errorf("Bucket(%q, %q, %q, %d) = %d; want %d", tc.flag, tc.salt, tc.key, tc.total, got, tc.want)
		}
	}
	long := strings.Repeat("k", 1000) // longer than the stack buffer
	if a, b := flags.Bucket("f", "", long, 1000), flags.Bucket("f", "", long, 1000); a != b || a >= 1000 {
		t.Errorf("Bucket(long key) = %d, %d; want one value below 1000", a, b)
	}
}
