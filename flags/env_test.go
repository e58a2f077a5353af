package flags_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/flags"
	"github.com/open-feature/go-sdk/openfeature"
)

// Environment flags are typed from their values and evaluate as STATIC with
// no variant; Reload picks up changes. (t.Setenv: not parallel.)
func TestEnvSource(t *testing.T) {
	const prefix = "CHASSIS_FLAGS_TEST_"
	t.Setenv(prefix+"NEW_CHECKOUT", "true")
	t.Setenv(prefix+"MAX_ITEMS", "20")
	t.Setenv(prefix+"RATE", "0.5")
	t.Setenv(prefix+"THEME", "dark")
	t.Setenv(prefix+"QUOTED", `"true"`)
	t.Setenv(prefix+"LIMITS", `{"rps": 10}`)
	t.Setenv(prefix+"NULL", "null")
	t.Setenv("CHASSIS_FLAGS_TESTX", "true") // no prefix match: not a flag

	p := flags.NewProvider(flags.EnvSource(prefix))
	_, client := sdkClient(t, p)
	ec := openfeature.NewEvaluationContext("user-1", nil)
	static := openfeature.StaticReason
	tests := []struct {
		name string
		eval evalFunc
		want result
	}{
		{"bool", boolEval("new-checkout", false), result{true, static, "", ""}},
		{"int", intEval("max-items", 0), result{int64(20), static, "", ""}},
		{"int as float", floatEval("max-items", 0), result{20.0, static, "", ""}},
		{"float", floatEval("rate", 0), result{0.5, static, "", ""}},
		{"string", stringEval("theme", ""), result{"dark", static, "", ""}},
		{"quoted string", stringEval("quoted", ""), result{"true", static, "", ""}},
		{"object", objectEval("limits", nil), result{map[string]any{"rps": 10.0}, static, "", ""}},
		{"null is a string", stringEval("null", ""), result{"null", static, "", ""}},
		{"bool as int", intEval("new-checkout", 3), result{int64(3), openfeature.ErrorReason, "", openfeature.TypeMismatchCode}},
		{"unprefixed", boolEval("testx", false), result{false, openfeature.ErrorReason, "", openfeature.FlagNotFoundCode}},
	}
	for _, tc := range tests {
		if got := tc.eval(t.Context(), client, ec); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v; want %+v", tc.name, got, tc.want)
		}
	}
	if st := p.Status(); st.Source != "env:"+prefix+"*" || st.Flags != 7 || st.LastError != "" {
		t.Errorf("Status() = %+v; want env:%s*, 7 flags, no error", st, prefix)
	}

	t.Setenv(prefix+"THEME", "light")
	if err := p.Reload(); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	if got := client.String(t.Context(), "theme", "", ec); got != "light" {
		t.Errorf("theme after Setenv and Reload = %q; want light", got)
	}

	// Two variables that name one flag are an error; the last good flags stay.
	t.Setenv(prefix+"theme", "blue")
	if err := p.Reload(); err == nil || !strings.Contains(err.Error(), `both define flag "theme"`) {
		t.Errorf("Reload() with a duplicate = %v; want a duplicate error", err)
	}
	if got := client.String(t.Context(), "theme", "", ec); got != "light" {
		t.Errorf("theme after a rejected Reload = %q; want light", got)
	}
}

// Run on an environment source only waits for its context.
func TestEnvSourceRun(t *testing.T) {
	t.Parallel()
	p := flags.NewProvider(flags.EnvSource("CHASSIS_FLAGS_TEST_RUN_"))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
}
