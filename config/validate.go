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

// measure says what min and max compare.
type measure int

const (
	measureNone measure = iota
	measureInt          // signed integers, time.Duration included
	measureUint
	measureFloat
	measureLen // strings (in runes), slices, arrays and maps
)

var durationType = reflect.TypeFor[time.Duration]()

// checker is a validate tag fitted to one field type.
type checker struct {
	rules
	typ            reflect.Type // the field type with one pointer level removed
	measure        measure
	minI, maxI     int64
	minU, maxU     uint64
	minF, maxF     float64
	elemwise       bool // oneof and pattern apply to each element
	duration       bool
	oneOfSet       map[string]bool
	elemKindString bool
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
	c := &checker{rules: r, typ: t, duration: t == durationType}
	if r.hasMin || r.hasMax {
		if err := c.fitBounds(); err != nil {
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

func (c *checker) fitBounds() error {
	t := c.typ
	switch {
	case c.duration:
		c.measure = measureInt
	case isIntKind(t.Kind()):
		c.measure = measureInt
	case isUintKind(t.Kind()):
		c.measure = measureUint
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		c.measure = measureFloat
	case t.Kind() == reflect.String || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map:
		c.measure = measureLen
	default:
		return fmt.Errorf("min and max do not apply to type %s", t)
	}
	parse := func(name, arg string) error {
		var err error
		switch c.measure {
		case measureInt:
			var v int64
			if c.duration {
				var d time.Duration
				d, err = time.ParseDuration(arg)
				v = int64(d)
			} else {
				v, err = strconv.ParseInt(arg, 10, 64)
			}
			if name == "min" {
				c.minI = v
			} else {
				c.maxI = v
			}
		case measureUint:
			var v uint64
			v, err = strconv.ParseUint(arg, 10, 64)
			if name == "min" {
				c.minU = v
			} else {
				c.maxU = v
			}
		case measureFloat:
			var v float64
			v, err = strconv.ParseFloat(arg, 64)
			if err == nil && math.IsNaN(v) {
				err = errors.New("NaN is not a bound")
			}
			if name == "min" {
				c.minF = v
			} else {
				c.maxF = v
			}
		case measureLen:
			var v int64
			v, err = strconv.ParseInt(arg, 10, 64)
			if err == nil && v < 0 {
				err = errors.New("a length cannot be negative")
			}
			if name == "min" {
				c.minI = v
			} else {
				c.maxI = v
			}
		}
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) {
				err = ne.Err
			}
			return fmt.Errorf("%s=%s is not a valid bound for %s: %w", name, arg, c.typ, err)
		}
		return nil
	}
	if c.hasMin {
		if err := parse("min", c.min); err != nil {
			return err
		}
	}
	if c.hasMax {
		if err := parse("max", c.max); err != nil {
			return err
		}
	}
	if c.hasMin && c.hasMax {
		var inverted bool
		switch c.measure {
		case measureInt, measureLen:
			inverted = c.minI > c.maxI
		case measureUint:
			inverted = c.minU > c.maxU
		case measureFloat:
			inverted = c.minF > c.maxF
		}
		if inverted {
			return fmt.Errorf("min=%s is greater than max=%s", c.min, c.max)
		}
	}
	return nil
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
	if c.hasMin || c.hasMax {
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
	var low, high bool
	var shown string
	switch c.measure {
	case measureInt:
		n := v.Int()
		low, high = c.hasMin && n < c.minI, c.hasMax && n > c.maxI
		if c.duration {
			shown = time.Duration(n).String()
		} else {
			shown = strconv.FormatInt(n, 10)
		}
	case measureUint:
		n := v.Uint()
		low, high = c.hasMin && n < c.minU, c.hasMax && n > c.maxU
		shown = strconv.FormatUint(n, 10)
	case measureFloat:
		f := v.Float()
		nan := math.IsNaN(f)
		low = c.hasMin && (nan || f < c.minF)
		high = !low && c.hasMax && (nan || f > c.maxF)
		shown = strconv.FormatFloat(f, 'g', -1, 64)
	case measureLen:
		n := int64(v.Len())
		if v.Kind() == reflect.String {
			n = int64(utf8.RuneCountInString(v.String()))
		}
		low, high = c.hasMin && n < c.minI, c.hasMax && n > c.maxI
		shown = "length " + strconv.FormatInt(n, 10)
		if secret {
			shown = "length"
		}
	}
	if secret && c.measure != measureLen {
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
