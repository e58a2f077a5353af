package flags

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// maxDocumentSize bounds what a Source may hand to the parser (16 MiB): a flag
// file is configuration, and a runaway file must not exhaust memory.
const maxDocumentSize = 16 << 20

// maxWeight bounds one rollout weight so that the sum of a rollout's weights
// (at most maxSplits of them) cannot overflow uint64.
const (
	maxWeight = 1_000_000_000
	maxSplits = 1000
)

// kind is the type of a flag's values, inferred from its variants.
type kind uint8

const (
	kindBool kind = iota + 1
	kindString
	kindInt // every variant is an integer; also readable as a float
	kindFloat
	kindObject
)

func (k kind) String() string {
	switch k {
	case kindBool:
		return "boolean"
	case kindString:
		return "string"
	case kindInt:
		return "integer"
	case kindFloat:
		return "float"
	case kindObject:
		return "object"
	}
	return "unknown"
}

// variant is one named value of a flag, kept in the form each evaluation
// method returns so that evaluating converts nothing.
type variant struct {
	name string
	b    bool
	s    string
	i    int64
	f    float64
	obj  any // map[string]any or []any; evaluation returns a deep copy
}

// split is one entry of a rollout: the variant with index v gets weight
// buckets out of the rollout's total.
type split struct {
	v      int
	weight uint64
}

// rollout assigns variants by the targeting key's bucket (see bucket).
type rollout struct {
	splits []split
	total  uint64
}

// pick returns the index of the variant whose cumulative weight range holds b
// (0 <= b < total).
func (r *rollout) pick(b uint64) int {
	var acc uint64
	for _, s := range r.splits {
		acc += s.weight
		if b < acc {
			return s.v
		}
	}
	return r.splits[len(r.splits)-1].v // unreachable while b < total
}

// op is a condition operator.
type op uint8

const (
	opIn op = iota + 1
	opNotIn
	opStartsWith
	opEndsWith
	opLT
	opLTE
	opGT
	opGTE
	opPresent
)

var opNames = map[string]op{
	"in": opIn, "not_in": opNotIn, "starts_with": opStartsWith, "ends_with": opEndsWith,
	"lt": opLT, "lte": opLTE, "gt": opGT, "gte": opGTE, "present": opPresent,
}

// cond is one compiled condition of a rule. Its values are split by type at
// parse time, so matching never decodes JSON.
type cond struct {
	attr  string
	op    op
	strs  []string
	nums  []float64
	bools []bool
}

// rule is a compiled targeting rule: if every condition holds, the flag
// resolves to variant (when split is nil) or to the rollout's pick.
type rule struct {
	when    []cond
	variant int
	split   *rollout
}

// flag is one compiled flag.
type flag struct {
	key      string
	kind     kind
	disabled bool
	variants []variant
	def      int // index of the default variant
	salt     string
	rules    []rule
	split    *rollout // rollout for contexts no rule matched; nil: the default variant
	raw      []byte   // the flag's definition as read, to report which flags changed
}

// ruleset is one loaded, validated set of flags; it is immutable once built
// and swapped in whole (Provider.cur).
type ruleset struct {
	flags   map[string]*flag
	version string // hex SHA-256 of the source document
}

// Document shapes. Decoding is strict (unknown fields are errors), so a
// misspelt key fails the load instead of silently changing behaviour.
type fileDoc struct {
	Flags map[string]json.RawMessage `json:"flags"`
}

type fileFlag struct {
	Description string                     `json:"description"`
	Disabled    bool                       `json:"disabled"`
	Variants    map[string]json.RawMessage `json:"variants"`
	Default     string                     `json:"default"`
	Salt        string                     `json:"salt"`
	Rules       []fileRule                 `json:"rules"`
	Rollout     []fileSplit                `json:"rollout"`
}

type fileRule struct {
	When    []fileCond  `json:"when"`
	Variant string      `json:"variant"`
	Rollout []fileSplit `json:"rollout"`
}

type fileCond struct {
	Attr   string            `json:"attr"`
	Op     string            `json:"op"`
	Values []json.RawMessage `json:"values"`
}

type fileSplit struct {
	Variant string      `json:"variant"`
	Weight  json.Number `json:"weight"`
}

// strictDecode decodes data into v, refusing unknown fields and trailing data.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the top-level value")
	}
	return nil
}

// parseDocument parses and validates a flag file (the format is in doc.go).
// It never panics, whatever data holds: the file is outside the program's
// control, so every problem is an error naming the flag and the field.
func parseDocument(data []byte) (*ruleset, error) {
	if len(data) > maxDocumentSize {
		return nil, fmt.Errorf("document is %d bytes; the limit is %d", len(data), maxDocumentSize)
	}
	var doc fileDoc
	if err := strictDecode(data, &doc); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if doc.Flags == nil {
		return nil, errors.New(`missing "flags" object`)
	}
	rs := &ruleset{flags: make(map[string]*flag, len(doc.Flags)), version: hashHex(data)}
	// Sorted, so the first error reported is the same on every load.
	keys := make([]string, 0, len(doc.Flags))
	for k := range doc.Flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, err := parseFlag(k, doc.Flags[k])
		if err != nil {
			return nil, fmt.Errorf("flag %q: %w", k, err)
		}
		rs.flags[k] = f
	}
	return rs, nil
}

func parseFlag(key string, raw json.RawMessage) (*flag, error) {
	if key == "" {
		return nil, errors.New("empty flag key")
	}
	var ff fileFlag
	if err := strictDecode(raw, &ff); err != nil {
		return nil, err
	}
	if len(ff.Variants) == 0 {
		return nil, errors.New(`"variants" is empty; give at least one variant`)
	}
	f := &flag{key: key, disabled: ff.Disabled, salt: ff.Salt, raw: compactJSON(raw)}
	names := make([]string, 0, len(ff.Variants))
	for n := range ff.Variants {
		names = append(names, n)
	}
	sort.Strings(names)
	index := make(map[string]int, len(names))
	var sawFloat bool
	for _, n := range names {
		if n == "" {
			return nil, errors.New("variants: empty variant name")
		}
		v, k, err := parseValue(ff.Variants[n])
		if err != nil {
			return nil, fmt.Errorf("variants[%q]: %w", n, err)
		}
		v.name = n
		switch {
		case f.kind == 0:
			f.kind = k
		case f.kind == k:
		case isNumber(f.kind) && isNumber(k):
			// An integer and a float variant make a float flag.
		default:
			return nil, fmt.Errorf("variants[%q] is %s but other variants are %s; all variants of a flag have one type", n, k, f.kind)
		}
		sawFloat = sawFloat || k == kindFloat
		index[n] = len(f.variants)
		f.variants = append(f.variants, v)
	}
	if sawFloat {
		f.kind = kindFloat
	}
	var ok bool
	if f.def, ok = index[ff.Default]; !ok {
		if ff.Default == "" {
			return nil, errors.New(`"default" is missing; name the variant served when no rule matches`)
		}
		return nil, fmt.Errorf(`"default" names unknown variant %q`, ff.Default)
	}
	for i, fr := range ff.Rules {
		r, err := parseRule(fr, index)
		if err != nil {
			return nil, fmt.Errorf("rules[%d]: %w", i, err)
		}
		f.rules = append(f.rules, r)
	}
	if ff.Rollout != nil {
		ro, err := parseRollout(ff.Rollout, index)
		if err != nil {
			return nil, fmt.Errorf("rollout: %w", err)
		}
		f.split = ro
	}
	return f, nil
}

func isNumber(k kind) bool { return k == kindInt || k == kindFloat }

// parseValue decodes one variant value and reports its kind. Numbers without
// a fraction or exponent that fit an int64 are integers.
func parseValue(raw json.RawMessage) (variant, kind, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return variant{}, 0, err
	}
	switch x := v.(type) {
	case bool:
		return variant{b: x}, kindBool, nil
	case string:
		return variant{s: x}, kindString, nil
	case json.Number:
		if i, err := x.Int64(); err == nil && !strings.ContainsAny(string(x), ".eE") {
			return variant{i: i, f: float64(i)}, kindInt, nil
		}
		fl, err := x.Float64()
		if err != nil || math.IsInf(fl, 0) {
			return variant{}, 0, fmt.Errorf("number %s is out of range", x)
		}
		return variant{f: fl}, kindFloat, nil
	case map[string]any, []any:
		return variant{obj: plainNumbers(x)}, kindObject, nil
	case nil:
		return variant{}, 0, errors.New("null is not a flag value")
	}
	return variant{}, 0, fmt.Errorf("unsupported value %T", v)
}

// plainNumbers turns the json.Number values inside an object variant into
// float64, as encoding/json does by default, so that callers of
// ObjectEvaluation see ordinary JSON types.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = plainNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plainNumbers(e)
		}
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	return v
}

func parseRule(fr fileRule, index map[string]int) (rule, error) {
	if len(fr.When) == 0 {
		return rule{}, errors.New(`"when" is empty; a rule needs at least one condition (use the flag's "default" or "rollout" for everyone)`)
	}
	var r rule
	for i, fc := range fr.When {
		c, err := parseCond(fc)
		if err != nil {
			return rule{}, fmt.Errorf("when[%d]: %w", i, err)
		}
		r.when = append(r.when, c)
	}
	switch {
	case fr.Variant != "" && fr.Rollout != nil:
		return rule{}, errors.New(`give "variant" or "rollout", not both`)
	case fr.Variant != "":
		v, ok := index[fr.Variant]
		if !ok {
			return rule{}, fmt.Errorf(`"variant" names unknown variant %q`, fr.Variant)
		}
		r.variant = v
	case fr.Rollout != nil:
		ro, err := parseRollout(fr.Rollout, index)
		if err != nil {
			return rule{}, fmt.Errorf("rollout: %w", err)
		}
		r.split = ro
	default:
		return rule{}, errors.New(`missing "variant" or "rollout"`)
	}
	return r, nil
}

func parseCond(fc fileCond) (cond, error) {
	if fc.Attr == "" {
		return cond{}, errors.New(`"attr" is empty; name an evaluation-context attribute`)
	}
	o, ok := opNames[fc.Op]
	if !ok {
		return cond{}, fmt.Errorf(`unknown "op" %q; use one of in, not_in, starts_with, ends_with, lt, lte, gt, gte, present`, fc.Op)
	}
	c := cond{attr: fc.Attr, op: o}
	switch o {
	case opPresent:
		if len(fc.Values) != 0 {
			return cond{}, errors.New(`op "present" takes no "values"`)
		}
		return c, nil
	case opLT, opLTE, opGT, opGTE:
		if len(fc.Values) != 1 {
			return cond{}, fmt.Errorf(`op %q takes exactly one number in "values", got %d values`, fc.Op, len(fc.Values))
		}
	default:
		if len(fc.Values) == 0 {
			return cond{}, fmt.Errorf(`op %q needs at least one value in "values"`, fc.Op)
		}
	}
	for i, raw := range fc.Values {
		v, k, err := parseValue(raw)
		if err != nil {
			return cond{}, fmt.Errorf("values[%d]: %w", i, err)
		}
		switch {
		case (o == opStartsWith || o == opEndsWith) && k != kindString:
			return cond{}, fmt.Errorf("values[%d]: op %q compares strings, got %s", i, fc.Op, k)
		case (o == opLT || o == opLTE || o == opGT || o == opGTE) && !isNumber(k):
			return cond{}, fmt.Errorf("values[%d]: op %q compares numbers, got %s", i, fc.Op, k)
		}
		switch k {
		case kindString:
			c.strs = append(c.strs, v.s)
		case kindInt, kindFloat:
			c.nums = append(c.nums, v.f)
		case kindBool:
			c.bools = append(c.bools, v.b)
		default:
			return cond{}, fmt.Errorf("values[%d]: conditions compare strings, numbers or booleans, got %s", i, k)
		}
	}
	return c, nil
}

func parseRollout(fs []fileSplit, index map[string]int) (*rollout, error) {
	if len(fs) == 0 || len(fs) > maxSplits {
		return nil, fmt.Errorf("needs 1 to %d entries, got %d", maxSplits, len(fs))
	}
	r := &rollout{}
	for i, s := range fs {
		v, ok := index[s.Variant]
		if !ok {
			return nil, fmt.Errorf("[%d]: unknown variant %q", i, s.Variant)
		}
		w, err := s.Weight.Int64()
		if err != nil || w < 0 || w > maxWeight {
			return nil, fmt.Errorf("[%d]: weight %q must be an integer from 0 to %d", i, s.Weight, maxWeight)
		}
		r.splits = append(r.splits, split{v: v, weight: uint64(w)})
		r.total += uint64(w)
	}
	if r.total == 0 {
		return nil, errors.New("weights sum to 0; give at least one positive weight")
	}
	return r, nil
}

// compactJSON returns raw without insignificant white space, so that
// reformatting a file does not report every flag as changed.
func compactJSON(raw []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

func hashHex(data []byte) string {
	sum := sha256.Sum256(data)
	return fmt.Sprintf("%x", sum[:])
}
