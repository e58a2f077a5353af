package flags

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
)

// The YAML example file means exactly what the JSON one does.
func TestYAMLMatchesJSON(t *testing.T) {
	t.Parallel()
	load := func(path string) *ruleset {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := FileSource(path).parse(data)
		if err != nil {
			t.Fatalf("parse(%s) = %v", path, err)
		}
		return rs
	}
	j, y := load("testdata/flags.json"), load("testdata/flags.yaml")
	if len(j.flags) != len(y.flags) {
		t.Fatalf("%d JSON flags, %d YAML flags", len(j.flags), len(y.flags))
	}
	for k, jf := range j.flags {
		yf := y.flags[k]
		if yf == nil {
			t.Errorf("flag %q missing from the YAML file", k)
			continue
		}
		jc, yc := *jf, *yf
		jc.raw, yc.raw = nil, nil
		if !reflect.DeepEqual(jc, yc) {
			t.Errorf("flag %q:\nJSON %+v\nYAML %+v", k, jc, yc)
		}
	}
}

func TestYAMLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, doc, want string }{
		{"empty", ``, "empty document"},
		{"syntax", "flags: [", "invalid YAML"},
		{"two documents", "flags: {}\n---\nflags: {}\n", "more than one document"},
		{"alias", "a: &x {variants: {on: true}, default: on}\nflags: {f: *x}\n", "aliases (*x) are not supported"},
		{"non-string key", "flags: {1: {variants: {on: true}, default: on}}", "mapping keys must be strings"},
		{"infinite", "flags: {f: {variants: {a: .inf}, default: a}}", "is not finite"},
		{"binary", "flags: {f: {variants: {a: !!binary aGk=}, default: a}}", "unsupported tag !!binary"},
		{"deep", "flags: " + strings.Repeat("[", 100) + strings.Repeat("]", 100), "nested deeper than 64 levels"},
		{"validation", "flags: {f: {variants: {a: 1, b: x}, default: a}}", `flag "f": variants["b"] is string`},
		{"float stays float", "flags: {f: {variants: {a: 1.0}, default: a}}\nextra: 1", `unknown field "extra"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FileSource("f.yml").parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parse(%q) = %v; want an error containing %q", tc.doc, err, tc.want)
			}
		})
	}
}

// YAML scalars keep their written type.
func TestYAMLScalars(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		want  kind
	}{
		{"1", kindInt},
		{"0x10", kindInt},
		{"1.0", kindFloat},
		{"1e3", kindFloat},
		{"99999999999999999999", kindFloat}, // beyond int64, as in JSON
		{"true", kindBool},
		{`"true"`, kindString},
		{"2026-12-06", kindString}, // a timestamp is its text
		{"{k: [1, x, null]}", kindObject},
	}
	for _, tc := range tests {
		rs, err := FileSource("f.yaml").parse([]byte("flags: {f: {variants: {a: " + tc.value + "}, default: a}}"))
		if err != nil {
			t.Errorf("value %s: %v", tc.value, err)
			continue
		}
		if got := rs.flags["f"].kind; got != tc.want {
			t.Errorf("value %s: kind %v; want %v", tc.value, got, tc.want)
		}
	}
	rs, err := FileSource("f.yaml").parse([]byte("flags: {f: {variants: {a: 0x10}, default: a}}"))
	if err == nil {
		p := &Provider{src: FileSource("f.yaml")}
		p.cur.Store(rs)
		if got := p.IntEvaluation(t.Context(), "f", 0, openfeature.FlattenedContext{}); got.Value != 16 {
			t.Errorf("0x10 evaluates to %d; want 16", got.Value)
		}
	}
}

// FuzzYAML checks that no YAML content makes the converter or the parser
// panic.
func FuzzYAML(f *testing.F) {
	if data, err := os.ReadFile("testdata/flags.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("flags: {f: {variants: {a: &x 1, b: *x}, default: a}}"))
	f.Add([]byte("flags: {f: {variants: {a: 1.5}, default: a}}\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = FileSource("f.yaml").parse(data)
	})
}
