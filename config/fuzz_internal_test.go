package config

// White-box: the validate tag parser is unexported, and Load needs a static
// type, so the parser is fuzzed directly against several field types.

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func FuzzValidateTag(f *testing.F) {
	for _, s := range []string{
		"", "min=1,max=65535", "oneof=debug|info|warn|error", "pattern=^[a-z]+$",
		"omitempty,pattern=^a{1,3}$", "min=1s,max=1m", "min=-1", "max=1e3", "min=5,max=1",
		"oneof=a||b", "min", "min=,", ",", " min=1 , max=2 ", "pattern=(", "omitempty=1", "min=1,min=2",
	} {
		f.Add(s, "abc")
	}
	types := []reflect.Type{
		reflect.TypeFor[int](), reflect.TypeFor[uint8](), reflect.TypeFor[float32](),
		reflect.TypeFor[time.Duration](), reflect.TypeFor[string](), reflect.TypeFor[[]string](),
		reflect.TypeFor[map[string]int](), reflect.TypeFor[*int](), reflect.TypeFor[bool](),
		reflect.TypeFor[[]int](), reflect.TypeFor[[]*string](),
	}
	f.Fuzz(func(t *testing.T, tag, value string) {
		r, err := parseValidateTag(tag)
		if err == nil {
			// Every rule the parser accepted is in the tag as written.
			if r.hasMin && !strings.Contains(tag, "min="+r.min) {
				t.Errorf("parseValidateTag(%q) min = %q; not in the tag", tag, r.min)
			}
			if r.pattern != nil && !strings.HasSuffix(tag, r.patternRaw) {
				t.Errorf("parseValidateTag(%q) pattern = %q; want the rest of the tag", tag, r.patternRaw)
			}
		}
		for _, typ := range types {
			c, cerr := compileValidateTag(tag, typ)
			if (err != nil) && cerr == nil {
				t.Fatalf("compileValidateTag(%q, %v) = nil error; parseValidateTag failed with %v", tag, typ, err)
			}
			if cerr != nil {
				continue
			}
			v := sampleValue(typ, value)
			for _, secret := range []bool{false, true} {
				for _, vi := range c.check(v, secret) {
					if secret && value != "" && len(value) > 3 && strings.Contains(vi.msg, value) && !strings.Contains(tag, value) {
						t.Errorf("check(%q, secret) message %q shows the value", value, vi.msg)
					}
					if !strings.Contains(tag, strings.SplitN(vi.rule, "=", 2)[0]) {
						t.Errorf("violation rule %q is not in tag %q", vi.rule, tag)
					}
				}
			}
		}
	})
}

// sampleValue builds a value of typ from s, whatever s is.
func sampleValue(typ reflect.Type, s string) reflect.Value {
	v := reflect.New(typ).Elem()
	n := int64(len(s)) - 3
	switch typ.Kind() {
	case reflect.Int, reflect.Int64:
		v.SetInt(n * 1000)
	case reflect.Uint8:
		v.SetUint(uint64(len(s)) % 256)
	case reflect.Float32:
		v.SetFloat(float64(n) / 3)
	case reflect.String:
		v.SetString(s)
	case reflect.Slice:
		parts := strings.Split(s, ",")
		v.Set(reflect.MakeSlice(typ, len(parts), len(parts)))
		for i, p := range parts {
			e := v.Index(i)
			switch typ.Elem().Kind() {
			case reflect.String:
				e.SetString(p)
			case reflect.Int:
				e.SetInt(int64(len(p)))
			case reflect.Pointer:
				if p != "" {
					ps := p
					e.Set(reflect.ValueOf(&ps))
				}
			}
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(typ))
		for _, p := range strings.Split(s, ",") {
			v.SetMapIndex(reflect.ValueOf(p), reflect.ValueOf(len(p)))
		}
	case reflect.Pointer:
		if s != "" {
			p := reflect.New(typ.Elem())
			p.Elem().SetInt(n)
			v.Set(p)
		}
	case reflect.Bool:
		v.SetBool(s != "")
	}
	return v
}
