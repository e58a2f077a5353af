package flags_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/flags"
	"github.com/open-feature/go-sdk/openfeature"
)

// CONTRIBUTING rules 2 and 3: a nil Option is ignored, and a nil value given
// to an option means the default.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	before := time.Now()
	p := flags.NewProvider(flags.FileSource("testdata/flags.json"), nil,
		flags.WithLogger(nil), flags.WithMeterProvider(nil), flags.WithClock(nil), nil)
	if got := p.BooleanEvaluation(t.Context(), "new-checkout", false, openfeature.FlattenedContext{"beta": true}); !got.Value {
		t.Errorf("BooleanEvaluation with nil options = %+v; want true", got)
	}
	if st := p.Status(); st.LoadedAt.Before(before) {
		t.Errorf("Status().LoadedAt = %v; want time.Now (after %v)", st.LoadedAt, before)
	}
	// The hook works with the default (global, no-op) providers too.
	_, client := sdkClient(t, p)
	if !client.Boolean(t.Context(), "new-checkout", false, openfeature.NewEvaluationContext("u", map[string]any{"beta": true})) {
		t.Error("client.Boolean with nil options = false; want true")
	}
}

// Invalid configuration panics at construction, naming the function and the
// fix.
func TestPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fn   func()
		want string
	}{
		{"FileSource empty", func() { flags.FileSource("") }, "flags.FileSource: path is empty"},
		{"EnvSource empty", func() { flags.EnvSource("") }, "flags.EnvSource: prefix is empty"},
		{"zero Source", func() { flags.NewProvider(flags.Source{}) }, "flags.NewProvider: src is the zero Source"},
		{"PollInterval 0", func() { flags.PollInterval(0) }, "flags.PollInterval: d must be positive, got 0s"},
		{"PollInterval negative", func() { flags.PollInterval(-time.Second) }, "flags.PollInterval: d must be positive, got -1s"},
		{"Bucket total 0", func() { flags.Bucket("f", "", "k", 0) }, "flags.Bucket: total is 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, tc.want) || !strings.Contains(s, "; ") {
					t.Errorf("panic = %v; want a message starting %q with a fix after \"; \"", r, tc.want)
				}
			}()
			tc.fn()
		})
	}
}

func TestSourceString(t *testing.T) {
	t.Parallel()
	for src, want := range map[flags.Source]string{
		flags.FileSource("/etc/f.json"): "file:/etc/f.json",
		flags.EnvSource("FLAG_"):        "env:FLAG_*",
		{}:                              "invalid",
	} {
		if got := src.String(); got != want {
			t.Errorf("String() = %q; want %q", got, want)
		}
	}
}
