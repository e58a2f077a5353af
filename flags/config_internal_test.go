package flags

import (
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
)

// Every validation error names the flag and the field, and a rejected
// document never half-loads.
func TestParseDocumentErrors(t *testing.T) {
	t.Parallel()
	flag := func(body string) string { return `{"flags": {"f": ` + body + `}}` }
	bool2 := `"variants": {"on": true, "off": false}, "default": "off"`
	tests := []struct {
		name, doc, want string
	}{
		{"not JSON", `{`, "invalid JSON"},
		{"trailing data", `{"flags": {}} {}`, "unexpected data after the top-level value"},
		{"no flags", `{}`, `missing "flags" object`},
		{"unknown top field", `{"flags": {}, "flag": {}}`, `unknown field "flag"`},
		{"unknown flag field", flag(`{` + bool2 + `, "rollot": []}`), `flag "f": json: unknown field "rollot"`},
		{"empty key", `{"flags": {"": {` + bool2 + `}}}`, "empty flag key"},
		{"no variants", flag(`{"default": "x"}`), `flag "f": "variants" is empty`},
		{"null variant", flag(`{"variants": {"a": null}, "default": "a"}`), `variants["a"]: null is not a flag value`},
		{"empty variant name", flag(`{"variants": {"": 1}, "default": ""}`), "empty variant name"},
		{"mixed types", flag(`{"variants": {"a": 1, "b": "x"}, "default": "a"}`), `variants["b"] is string but other variants are integer`},
		{"huge number", flag(`{"variants": {"a": 1e999}, "default": "a"}`), "out of range"},
		{"no default", flag(`{"variants": {"a": 1}}`), `"default" is missing`},
		{"bad default", flag(`{"variants": {"a": 1}, "default": "b"}`), `"default" names unknown variant "b"`},
		{"empty when", flag(`{` + bool2 + `, "rules": [{"when": [], "variant": "on"}]}`), `rules[0]: "when" is empty`},
		{"variant and rollout", flag(`{` + bool2 + `, "rules": [{"when": [{"attr": "a", "op": "present"}], "variant": "on", "rollout": [{"variant": "on", "weight": 1}]}]}`), `give "variant" or "rollout", not both`},
		{"neither", flag(`{` + bool2 + `, "rules": [{"when": [{"attr": "a", "op": "present"}]}]}`), `missing "variant" or "rollout"`},
		{"rule unknown variant", flag(`{` + bool2 + `, "rules": [{"when": [{"attr": "a", "op": "present"}], "variant": "x"}]}`), `rules[0]: "variant" names unknown variant "x"`},
		{"no attr", flag(`{` + bool2 + `, "rules": [{"when": [{"op": "present"}], "variant": "on"}]}`), `rules[0]: when[0]: "attr" is empty`},
		{"bad op", flag(`{` + bool2 + `, "rules": [{"when": [{"attr": "a", "op": "eq", "values": [1]}], "variant": "on"}]}`), `unknown "op" "eq"`},
		{"present with values", flag(`{` + bool2 + `, "rules": [{"when": [{"attr": "a", "op": "present", "values": [1]}], "variant": "on"}]}`), `op "present" takes no "values"`},
		{"lt two values", flag(`{` + bool2 + `, "rules": [{"when": [{"attr": "a", "op": "lt", "values": [1, 2]}], "variant": "on"}]}`), `op "lt" takes exactly one number`},
		{"lt string", flag(`{` + bool2 + `, "rules": [{"when": [{"attr": "a", "op": "lt", "values": ["1"]}], "variant": "on"}]}`), `op "lt" compares numbers, got string`},
		{"in no values", flag(`{` + bool2 + `, "rules": [{"when": [{"attr": "a", "op": "in", "values": []}], "variant": "on"}]}`), `op "in" needs at least one value`},
		{"in object", flag(`{` + bool2 + `, "rules": [{"when": [{"attr": "a", "op": "in", "values": [{}]}], "variant": "on"}]}`), "conditions compare strings, numbers or booleans, got object"},
		{"starts_with number", flag(`{` + bool2 + `, "rules": [{"when": [{"attr": "a", "op": "starts_with", "values": [1]}], "variant": "on"}]}`), `op "starts_with" compares strings, got integer`},
		{"empty rollout", flag(`{` + bool2 + `, "rollout": []}`), "rollout: needs 1 to 1000 entries, got 0"},
		{"rollout unknown variant", flag(`{` + bool2 + `, "rollout": [{"variant": "x", "weight": 1}]}`), `rollout: [0]: unknown variant "x"`},
		{"negative weight", flag(`{` + bool2 + `, "rollout": [{"variant": "on", "weight": -1}]}`), "weight \"-1\" must be an integer from 0 to 1000000000"},
		{"fractional weight", flag(`{` + bool2 + `, "rollout": [{"variant": "on", "weight": 2.5}]}`), "must be an integer"},
		{"huge weight", flag(`{` + bool2 + `, "rollout": [{"variant": "on", "weight": 1000000001}]}`), "must be an integer"},
		{"zero total", flag(`{` + bool2 + `, "rollout": [{"variant": "on", "weight": 0}]}`), "weights sum to 0"},
		{"rule rollout error", flag(`{` + bool2 + `, "rules": [{"when": [{"attr": "a", "op": "present"}], "rollout": [{"variant": "on", "weight": 0}]}]}`), "rules[0]: rollout: weights sum to 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := parseDocument([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseDocument(%s) = %v; want an error containing %q", tc.doc, err, tc.want)
			}
			if rs != nil {
				t.Errorf("parseDocument(%s) returned flags with its error", tc.doc)
			}
		})
	}
}

// Types are inferred from the variants.
func TestParseKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		variants string
		want     kind
	}{
		{`{"a": true}`, kindBool},
		{`{"a": "x"}`, kindString},
		{`{"a": 1, "b": -2}`, kindInt},
		{`{"a": 1, "b": 2.5}`, kindFloat},
		{`{"a": 1e3}`, kindFloat},
		{`{"a": 1.0}`, kindFloat},
		{`{"a": 9223372036854775808}`, kindFloat}, // beyond int64
		{`{"a": {"k": 1}, "b": [1]}`, kindObject},
	}
	for _, tc := range tests {
		rs, err := parseDocument([]byte(`{"flags": {"f": {"variants": ` + tc.variants + `, "default": "a"}}}`))
		if err != nil {
			t.Errorf("variants %s: %v", tc.variants, err)
			continue
		}
		if got := rs.flags["f"].kind; got != tc.want {
			t.Errorf("variants %s: kind %v; want %v", tc.variants, got, tc.want)
		}
	}
}

// The shipped example file is valid.
func TestExampleFileParses(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/flags.json")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := parseDocument(data)
	if err != nil {
		t.Fatalf("parseDocument(testdata/flags.json) = %v", err)
	}
	if len(rs.flags) != 6 {
		t.Errorf("testdata/flags.json has %d flags; want 6", len(rs.flags))
	}
}

// FuzzParseDocument checks that no file content makes the parser or an
// evaluation of what it accepted panic, and that what it accepts evaluates
// to a variant of the flag or an error.
func FuzzParseDocument(f *testing.F) {
	if data, err := os.ReadFile("testdata/flags.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"flags": {"f": {"variants": {"a": 1, "b": 2.5}, "default": "a", "rules": [{"when": [{"attr": "x", "op": "gte", "values": [1]}], "rollout": [{"variant": "b", "weight": 1}]}]}}}`))
	f.Add([]byte(`{"flags": {"o": {"variants": {"a": {"k": [1, "x", null]}}, "default": "a"}}}`))
	f.Add([]byte(`{"flags": {}}`))
	f.Add([]byte(`[]`))
	contexts := []openfeature.FlattenedContext{
		{},
		{"targetingKey": "user-1", "x": 2, "country": "FR", "beta": true, "plan": "pro", "email": "a@example.com", "app_version": 3.5},
		{"targetingKey": "", "x": "2", "beta": "true"},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := parseDocument(data)
		if err != nil {
			return
		}
		p := &Provider{src: FileSource("fuzz")}
		p.cur.Store(rs)
		ctx := t.Context()
		for key, fl := range rs.flags {
			for _, fc := range contexts {
				b := p.BooleanEvaluation(ctx, key, false, fc)
				s := p.StringEvaluation(ctx, key, "", fc)
				i := p.IntEvaluation(ctx, key, 0, fc)
				fv := p.FloatEvaluation(ctx, key, 0, fc)
				o := p.ObjectEvaluation(ctx, key, nil, fc)
				for _, d := range []openfeature.ProviderResolutionDetail{b.ProviderResolutionDetail, s.ProviderResolutionDetail, i.ProviderResolutionDetail, fv.ProviderResolutionDetail, o.ProviderResolutionDetail} {
					if d.Error() == nil && d.Reason != openfeature.DisabledReason && !fl.hasVariant(d.Variant) {
						t.Fatalf("flag %q resolved to variant %q, which it does not have", key, d.Variant)
					}
				}
			}
		}
	})
}

func (f *flag) hasVariant(name string) bool {
	for _, v := range f.variants {
		if v.name == name {
			return true
		}
	}
	return false
}

// A file over the size limit is rejected without being parsed.
func TestFileTooLarge(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/big.json"
	data := make([]byte, maxDocumentSize+1)
	for i := range data {
		data[i] = ' '
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	p := NewProvider(FileSource(path), WithLogger(slog.New(slog.DiscardHandler)))
	if st := p.Status(); !strings.Contains(st.LastError, "larger than the 16777216-byte limit") {
		t.Errorf("Status().LastError = %q; want the size limit", st.LastError)
	}
}

// Error messages quote the caller's flag key, bounded.
func TestNotFoundMessageBounded(t *testing.T) {
	t.Parallel()
	p := NewProvider(FileSource("testdata/flags.json"), WithLogger(slog.New(slog.DiscardHandler)))
	d := p.BooleanEvaluation(t.Context(), strings.Repeat("k", 10000)+"\n", false, nil)
	msg := d.ResolutionDetail().ErrorMessage
	if d.ResolutionDetail().ErrorCode != openfeature.FlagNotFoundCode || len(msg) > 200 || strings.Contains(msg, "\n") {
		t.Errorf("error message = %q (%d bytes); want FLAG_NOT_FOUND with a short quoted key", msg, len(msg))
	}
}

// A path that is not a regular file is an error, never a blocking read.
func TestNotARegularFile(t *testing.T) {
	t.Parallel()
	p := NewProvider(FileSource(t.TempDir()), WithLogger(slog.New(slog.DiscardHandler)))
	if st := p.Status(); !strings.Contains(st.LastError, "is not a regular file") {
		t.Errorf("Status().LastError = %q; want not a regular file", st.LastError)
	}
}

// A file reached through a symbolic link is reloaded when the link is
// switched to another file, as Kubernetes does for mounted ConfigMaps.
func TestSymlinkSwitch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, doc := range map[string]string{"v1.json": docV1, "v2.json": docV2} {
		if err := os.WriteFile(dir+"/"+name, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("v1.json", dir+"/flags.json"); err != nil {
		t.Fatal(err)
	}
	p := NewProvider(FileSource(dir+"/flags.json"), WithLogger(slog.New(slog.DiscardHandler)))
	if err := os.Symlink("v2.json", dir+"/next"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+"/next", dir+"/flags.json"); err != nil {
		t.Fatal(err)
	}
	p.poll()
	if st := p.Status(); st.Flags != 3 || st.LastError != "" {
		t.Errorf("Status() after the link switch = %+v; want the 3 flags of v2", st)
	}
}

// FuzzEnvValue checks that no environment value makes the env parser or an
// evaluation panic, and that every value loads (as JSON or as a string).
func FuzzEnvValue(f *testing.F) {
	for _, s := range []string{"true", "20", "0.5", "dark", `"true"`, `{"rps": 10}`, "null", "", "[1,", "1e999"} {
		f.Add("NAME", s)
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		rs, err := parseEnv("P_", []string{"P_" + name + "=" + value})
		if strings.Contains(name, "=") {
			return // the value starts earlier; any outcome is fine
		}
		if name == "" {
			if err == nil {
				t.Fatal("parseEnv accepted a variable with no flag name")
			}
			return
		}
		if err != nil {
			t.Fatalf("parseEnv(P_%s=%q) = %v; want every value accepted", name, value, err)
		}
		p := &Provider{src: EnvSource("P_")}
		p.cur.Store(rs)
		for key := range rs.flags {
			p.BooleanEvaluation(t.Context(), key, false, nil)
			p.ObjectEvaluation(t.Context(), key, nil, nil)
		}
	})
}
