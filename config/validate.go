package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// rules is the syntax of one validate tag, before it is fitted to a type.
type rules struct {
	omitEmpty  bool
	min, max   string // raw bounds; "" when absent
	hasMin     bool
	hasMax     bool
	oneOf      []string
	oneOfRaw   string
	pattern    *regexp.Regexp
	patternRaw string
}

// parseValidateTag parses a validate tag: comma-separated rules, each one of
// omitempty, min=N, max=N, oneof=a|b|c or pattern=RE. pattern must come last:
// it takes the rest of the tag, commas included. Spaces around a rule are
// ignored, except inside a pattern.
func parseValidateTag(tag string) (rules, error) {
	var r rules
	seen := map[string]bool{}
	for rest := tag; rest != ""; {
		item := rest
		rest = ""
		// pattern= consumes the rest of the tag, so look for it before splitting.
		trimmed := strings.TrimLeft(item, " ")
		if !strings.HasPrefix(trimmed, "pattern=") {
			if i := strings.IndexByte(item, ','); i >= 0 {
				item, rest = item[:i], item[i+1:]
				if rest == "" {
					return rules{}, errors.New("trailing comma")
				}
			}
			item = strings.TrimSpace(item)
		} else {
			item = trimmed
		}
		if item == "" {
			return rules{}, errors.New("empty rule")
		}
		name, arg, hasArg := strings.Cut(item, "=")
		if seen[name] {
			return rules{}, fmt.Errorf("duplicate rule %q", name)
		}
		seen[name] = true
		switch name {
		case "omitempty":
			if hasArg {
				return rules{}, errors.New("omitempty takes no value")
			}
			r.omitEmpty = true
			continue
		case "min", "max", "oneof", "pattern":
		default:
			return rules{}, fmt.Errorf("unknown rule %q (want omitempty, min, max, oneof or pattern)", name)
		}
		if !hasArg || arg == "" {
			return rules{}, fmt.Errorf("rule %q needs a value (%s=V)", name, name)
		}
		switch name {
		case "min":
			r.min, r.hasMin = arg, true
		case "max":
			r.max, r.hasMax = arg, true
		case "oneof":
			r.oneOfRaw = arg
			r.oneOf = strings.Split(arg, "|")
			if slicesContains(r.oneOf, "") {
				return rules{}, fmt.Errorf("oneof=%s has an empty alternative", arg)
			}
		case "pattern":
			re, err := regexp.Compile(arg)
			if err != nil {
				return rules{}, fmt.Errorf("pattern: %w", err)
			}
			r.pattern, r.patternRaw = re, arg
		}
	}
	return r, nil
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

var durationType = reflect.TypeFor[time.Duration]()

// checker is a validate tag fitted to one field type.
type checker struct {
	rules
	typ            reflect.Type // the field type with one pointer level removed
	bounds         bounds       // nil without min and max
	elemwise       bool         // oneof and pattern apply to each element
	oneOfSet       map[string]bool
	elemKindString bool
}

// bounds checks min and max against one measure of a value.
type bounds interface {
	// check reports whether v's measure is below min or above max, and the
	// measure as shown in a message ("42", "1m30s", "length 3").
	check(v reflect.Value) (low, high bool, shown string)
	// isLength reports whether the measure is a length, which may be shown
	// for a secret (its value may not).
	isLength() bool
}

// number is what a bound can be: integers and durations are int64, lengths
// too.
type number interface{ int64 | uint64 | float64 }

// boundsOf is the bounds of one kind of number; one generic type serves
// signed and unsigned integers, floats, durations and lengths alike.
type boundsOf[T number] struct {
	min, max       T
	hasMin, hasMax bool
	measure        func(reflect.Value) T
	show           func(T) string
	length         bool
}

func (b *boundsOf[T]) check(v reflect.Value) (low, high bool, shown string) {
	n := b.measure(v)
	nan := n != n // only a float NaN; it is out of every range
	low = b.hasMin && (nan || n < b.min)
	high = !low && b.hasMax && (nan || n > b.max)
	return low, high, b.show(n)
}

func (b *boundsOf[T]) isLength() bool { return b.length }

// newBounds parses the min and max of r with parse and checks that they are
// in order; typ is only for messages.
func newBounds[T number](r rules, typ reflect.Type, parse func(string) (T, error), measure func(reflect.Value) T, show func(T) string) (*boundsOf[T], error) {
	b := &boundsOf[T]{hasMin: r.hasMin, hasMax: r.hasMax, measure: measure, show: show}
	for _, bd := range []struct {
		name, arg string
		has       bool
		dst       *T
	}{{"min", r.min, r.hasMin, &b.min}, {"max", r.max, r.hasMax, &b.max}} {
		if !bd.has {
			continue
		}
		v, err := parse(bd.arg)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) {
				err = ne.Err
			}
			return nil, fmt.Errorf("%s=%s is not a valid bound for %s: %w", bd.name, bd.arg, typ, err)
		}
		*bd.dst = v
	}
	if b.hasMin && b.hasMax && b.min > b.max {
		return nil, fmt.Errorf("min=%s is greater than max=%s", r.min, r.max)
	}
	return b, nil
}

// compileValidateTag parses tag and fits it to t. The error says why the tag
// does not fit; it does not name the field.
func compileValidateTag(tag string, t reflect.Type) (*checker, error) {
	r, err := parseValidateTag(tag)
	if err != nil {
		return nil, err
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	c := &checker{rules: r, typ: t}
	if r.hasMin || r.hasMax {
		if c.bounds, err = fitBounds(r, t); err != nil {
			return nil, err
		}
	}
	if r.oneOf != nil || r.pattern != nil {
		if err := c.fitMembers(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// fitBounds returns the bounds of r for a field of type t: a duration
// compares as a duration (min=1s), a number as its kind, and a string (in
// runes), slice, array or map by its length.
func fitBounds(r rules, t reflect.Type) (bounds, error) {
	k := t.Kind()
	switch {
	case t == durationType:
		return newBounds(r, t, func(s string) (int64, error) {
			d, err := time.ParseDuration(s)
			return int64(d), err
		}, reflect.Value.Int, func(n int64) string { return time.Duration(n).String() })
	case isIntKind(k):
		return newBounds(r, t, func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) },
			reflect.Value.Int, func(n int64) string { return strconv.FormatInt(n, 10) })
	case isUintKind(k):
		return newBounds(r, t, func(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) },
			reflect.Value.Uint, func(n uint64) string { return strconv.FormatUint(n, 10) })
	case k == reflect.Float32 || k == reflect.Float64:
		return newBounds(r, t, func(s string) (float64, error) {
			f, err := strconv.ParseFloat(s, 64)
			if err == nil && math.IsNaN(f) {
				err = errors.New("NaN is not a bound")
			}
			return f, err
		}, reflect.Value.Float, func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) })
	case k == reflect.String || k == reflect.Slice || k == reflect.Array || k == reflect.Map:
		b, err := newBounds(r, t, func(s string) (int64, error) {
			n, err := strconv.ParseInt(s, 10, 64)
			if err == nil && n < 0 {
				err = errors.New("a length cannot be negative")
			}
			return n, err
		}, func(v reflect.Value) int64 {
			if v.Kind() == reflect.String {
				return int64(utf8.RuneCountInString(v.String()))
			}
			return int64(v.Len())
		}, func(n int64) string { return "length " + strconv.FormatInt(n, 10) })
		if b != nil {
			b.length = true
		}
		return b, err
	}
	return nil, fmt.Errorf("min and max do not apply to type %s", t)
}

func (c *checker) fitMembers() error {
	t := c.typ
	if (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t != durationType {
		c.elemwise = true
		t = t.Elem()
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	k := t.Kind()
	c.elemKindString = k == reflect.String
	if c.oneOf != nil {
		if k != reflect.String && !isIntKind(k) && !isUintKind(k) {
			return fmt.Errorf("oneof does not apply to type %s", c.typ)
		}
		c.oneOfSet = make(map[string]bool, len(c.oneOf))
		for _, v := range c.oneOf {
			c.oneOfSet[v] = true
		}
	}
	if c.pattern != nil && k != reflect.String {
		return fmt.Errorf("pattern does not apply to type %s", c.typ)
	}
	return nil
}

func isIntKind(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Int64
}

func isUintKind(k reflect.Kind) bool {
	return k >= reflect.Uint && k <= reflect.Uintptr
}

// violation is one failed rule; msg never contains a secret value.
type violation struct {
	rule string
	msg  string
}

// check validates v, a value of the type the checker was compiled for (a nil
// pointer is not checked). When secret is true, messages do not show the
// value, an element or a length.
func (c *checker) check(v reflect.Value, secret bool) []violation {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if c.omitEmpty && v.IsZero() {
		return nil
	}
	var out []violation
	if c.bounds != nil {
		out = c.checkBounds(v, secret, out)
	}
	if c.oneOfSet != nil || c.pattern != nil {
		if c.elemwise {
			for i := range v.Len() {
				e := v.Index(i)
				if e.Kind() == reflect.Pointer {
					if e.IsNil() {
						continue
					}
					e = e.Elem()
				}
				out = c.checkMember(e, fmt.Sprintf("element %d", i), secret, out)
			}
		} else {
			out = c.checkMember(v, "", secret, out)
		}
	}
	return out
}

func (c *checker) checkBounds(v reflect.Value, secret bool, out []violation) []violation {
	low, high, shown := c.bounds.check(v)
	switch {
	case secret && c.bounds.isLength():
		shown = "length"
	case secret:
		shown = "value"
	}
	if low {
		out = append(out, violation{"min=" + c.min, shown + " is less than min=" + c.min})
	}
	if high {
		out = append(out, violation{"max=" + c.max, shown + " is greater than max=" + c.max})
	}
	return out
}

func (c *checker) checkMember(v reflect.Value, what string, secret bool, out []violation) []violation {
	var s string
	switch {
	case v.Kind() == reflect.String:
		s = v.String()
	case isIntKind(v.Kind()):
		s = strconv.FormatInt(v.Int(), 10)
	case isUintKind(v.Kind()):
		s = strconv.FormatUint(v.Uint(), 10)
	default:
		return out
	}
	shown := quoteShort(s)
	if v.Kind() != reflect.String {
		shown = s
	}
	switch {
	case secret && what == "":
		shown = "value"
	case secret:
		shown = what
	case what != "":
		shown = what + " (" + shown + ")"
	}
	if c.oneOfSet != nil && !c.oneOfSet[s] {
		out = append(out, violation{"oneof=" + c.oneOfRaw, shown + " is not one of " + c.oneOfRaw})
	}
	if c.pattern != nil && !c.pattern.MatchString(s) {
		out = append(out, violation{"pattern=" + c.patternRaw, shown + " does not match pattern " + c.patternRaw})
	}
	return out
}

// quoteShort quotes s, cut to at most 64 runes so one bad value cannot flood
// the error text.
func quoteShort(s string) string {
	const limit = 64
	if utf8.RuneCountInString(s) <= limit {
		return strconv.Quote(s)
	}
	n := 0
	for i := range s {
		if n == limit {
			return strconv.Quote(s[:i]) + "..."
		}
		n++
	}
	return strconv.Quote(s)
}
