package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Option configures [Load], [MustLoad] and [Redacted]. A nil Option is
// ignored.
type Option func(*options)

type options struct {
	prefix  string
	env     map[string]string
	private bool // env came from WithEnvironment
}

// WithPrefix prepends p to every variable name, nested envPrefix tags
// included: with WithPrefix("APP_"), env:"PORT" reads APP_PORT. The default
// is no prefix.
func WithPrefix(p string) Option {
	return func(o *options) { o.prefix = p }
}

// WithEnvironment makes Load read variables from env instead of the process
// environment, which it then neither reads nor modifies (the env tag option
// unset is ignored). A nil map is an empty environment. The map is copied.
// Tests use it so that they can run in parallel.
func WithEnvironment(env map[string]string) Option {
	c := maps.Clone(env)
	if c == nil {
		c = map[string]string{}
	}
	return func(o *options) { o.env, o.private = c, true }
}

// Load returns a T filled from environment variables, following the tags of
// github.com/caarlos0/env/v11 (env, envDefault, envPrefix, envSeparator,
// envKeyValSeparator and the env options required, notEmpty, file, expand,
// init, unset), then checks each field's validate tag. See the package
// documentation for the tags.
//
// Load reports every problem at once: a missing or empty required variable, a
// value that does not parse, a value that breaks a validate rule and a
// malformed tag each add one [FieldError] to the returned *[Error], which
// matches [ErrInvalid]. On error Load returns the zero T. No error text
// contains the value of a field tagged secret:"true".
//
// T must be a struct type; otherwise Load returns an error that does not
// match ErrInvalid. Load never panics on any environment. Calls may run
// concurrently; only the env option unset (ignored with [WithEnvironment])
// changes the process environment.
func Load[T any](opts ...Option) (T, error) {
	var cfg T
	if err := load(&cfg, opts); err != nil {
		var zero T
		return zero, err
	}
	return cfg, nil
}

// MustLoad is like [Load] but panics with Load's error, whose text lists
// every problem. It is meant for main, where a bad configuration should stop
// the program before it starts.
func MustLoad[T any](opts ...Option) T {
	cfg, err := Load[T](opts...)
	if err != nil {
		panic(err)
	}
	return cfg
}

func load(ptr any, opts []Option) error {
	o := options{}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.env == nil {
		o.env = env.ToMap(os.Environ())
	}
	rv := reflect.ValueOf(ptr).Elem()
	if rv.Kind() != reflect.Struct {
		return fmt.Errorf("config.Load: type %s is not a struct; load into a struct type", rv.Type())
	}
	var problems []FieldError
	w := walker{env: o.env, load: true, visit: func(l leaf) {
		problems = append(problems, loadLeaf(l, &o)...)
	}}
	w.walkStruct(rv, o.prefix, "")
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

// loadLeaf parses one field with env/v11 and validates it. env/v11 is given a
// one-field struct of the field's type, so that each error belongs to a known
// variable and a secret's value can be kept out of the message.
func loadLeaf(l leaf, o *options) []FieldError {
	secret, secretErr := l.secret()
	fe := func(rule, msg string, err error) FieldError {
		if secret {
			err = nil
		}
		return FieldError{Var: l.key, Field: l.path, Rule: rule, Msg: msg, Err: err}
	}
	var problems []FieldError
	if secretErr != nil {
		problems = append(problems, fe(RuleSecretTag, fmt.Sprintf("secret tag %q is not a boolean; write secret:\"true\"", l.sf.Tag.Get("secret")), nil))
	}
	var chk *checker
	if tag, ok := l.sf.Tag.Lookup("validate"); ok {
		var err error
		if chk, err = compileValidateTag(tag, l.sf.Type); err != nil {
			problems = append(problems, fe(RuleValidateTag, fmt.Sprintf("bad validate tag %q: %v", tag, err), nil))
		}
	}

	_, hasDefault := l.sf.Tag.Lookup("envDefault")
	if !l.group && (l.ownKey != "" || hasDefault || len(l.tagOpts) > 0) {
		if p := parseLeaf(l, o, secret, fe); p != nil {
			return append(problems, p...)
		}
	}
	if chk != nil && len(problems) == 0 {
		for _, v := range chk.check(l.v, secret) {
			problems = append(problems, fe(v.rule, v.msg, nil))
		}
	}
	return problems
}

func parseLeaf(l leaf, o *options, secret bool, fe func(rule, msg string, err error) FieldError) []FieldError {
	tagOpts := l.tagOpts
	if o.private {
		tagOpts = nil
		for _, opt := range l.tagOpts {
			if opt != "unset" {
				tagOpts = append(tagOpts, opt)
			}
		}
	}
	var tag strings.Builder
	tag.WriteString(`env:`)
	tag.WriteString(strconv.Quote(strings.Join(append([]string{l.ownKey}, tagOpts...), ",")))
	for _, name := range []string{"envDefault", "envSeparator", "envKeyValSeparator"} {
		if v, ok := l.sf.Tag.Lookup(name); ok {
			tag.WriteString(" " + name + ":" + strconv.Quote(v))
		}
	}
	environ := o.env
	if isList(l.sf.Type) && l.ownKey != "" {
		var fe2 []FieldError
		if environ, fe2 = cleanList(l, environ, secret, fe); fe2 != nil {
			return fe2
		}
	}
	st := reflect.StructOf([]reflect.StructField{{Name: l.sf.Name, Type: l.sf.Type, Tag: reflect.StructTag(tag.String())}})
	holder := reflect.New(st)
	raw := l.sf.Tag.Get("envDefault") // what env/v11 used if OnSet is not called
	err := env.ParseWithOptions(holder.Interface(), env.Options{
		Environment: environ,
		FuncMap:     wordParsers(l.sf.Type),
		Prefix:      l.prefix,
		OnSet: func(_ string, value any, _ bool) {
			raw, _ = value.(string)
		},
	})
	if err == nil {
		l.v.Set(holder.Elem().Field(0))
		return nil
	}
	var errs []error
	var agg env.AggregateError
	if errors.As(err, &agg) {
		errs = agg.Errors
	} else {
		errs = []error{err}
	}
	problems := make([]FieldError, 0, len(errs))
	for _, e := range errs {
		problems = append(problems, translate(e, l, raw, secret, fe))
	}
	return problems
}

// isList reports whether t (or *t) is a slice that env/v11 splits on
// envSeparator, as opposed to a type that parses itself.
func isList(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Slice && !reflect.PointerTo(t).Implements(textUnmarshalerType)
}

// cleanList applies the list rules to the field's variable (or, when it is
// unset or empty, to its envDefault, which env/v11 then uses): each element
// is trimmed of surrounding spaces, and an empty element (",,", a leading
// or trailing separator) is an error. It returns env, or a copy with the
// cleaned value when trimming changed it.
func cleanList(l leaf, environ map[string]string, secret bool, fe func(rule, msg string, err error) FieldError) (map[string]string, []FieldError) {
	key := l.prefix + l.ownKey
	v, set := environ[key]
	if !set || v == "" {
		v, set = l.sf.Tag.Lookup("envDefault")
		if !set || v == "" {
			return environ, nil
		}
	}
	sep := l.sf.Tag.Get("envSeparator")
	if sep == "" {
		sep = ","
	}
	parts := strings.Split(v, sep)
	for i, p := range parts {
		if parts[i] = strings.TrimSpace(p); parts[i] == "" {
			shown := quoteShort(v) + " has"
			if secret {
				shown = "secret list has"
			}
			return nil, []FieldError{fe(RuleParse, fmt.Sprintf("%s an empty element %d; remove the extra %q", shown, i, sep), nil)}
		}
	}
	cleaned := strings.Join(parts, sep)
	if cleaned == v {
		return environ, nil
	}
	c := maps.Clone(environ)
	c[key] = cleaned
	return c, nil
}

// wordParsers returns env/v11 parsers that read int and uint (and named
// types of those kinds) at their full width: env/v11 parses them as 32-bit
// numbers even where int is 64 bits. Nil when t holds no such type.
func wordParsers(t reflect.Type) map[reflect.Type]env.ParserFunc {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Int:
		return map[reflect.Type]env.ParserFunc{t: func(v string) (any, error) {
			n, err := strconv.ParseInt(v, 10, strconv.IntSize)
			return reflect.ValueOf(n).Convert(t).Interface(), err
		}}
	case reflect.Uint:
		return map[reflect.Type]env.ParserFunc{t: func(v string) (any, error) {
			n, err := strconv.ParseUint(v, 10, strconv.IntSize)
			return reflect.ValueOf(n).Convert(t).Interface(), err
		}}
	}
	return nil
}

// translate turns an env/v11 error into a FieldError whose message never
// quotes a secret value: env's ParseError wraps parser errors, which often
// quote the input.
func translate(err error, l leaf, raw string, secret bool, fe func(rule, msg string, err error) FieldError) FieldError {
	typ := l.sf.Type.String()
	switch e := err.(type) {
	case env.VarIsNotSetError:
		return fe(RuleRequired, "required but not set", err)
	case env.EmptyVarError:
		return fe(RuleNotEmpty, "set but empty", err)
	case env.LoadFileContentError:
		return fe(RuleFile, fmt.Sprintf("cannot read file %q: %v", e.Filename, e.Err), e.Err)
	case env.ParseError:
		if secret {
			return fe(RuleParse, "secret value is not a valid "+typ, nil)
		}
		cause := e.Err
		var pve env.ParseValueError
		if errors.As(cause, &pve) {
			cause = pve.Err
		}
		msg := causeText(cause, raw)
		return fe(RuleParse, fmt.Sprintf("%s is not a valid %s: %s", quoteShort(raw), typ, msg), cause)
	case env.NoParserError:
		return fe(RuleType, "no parser for type "+typ+"; implement encoding.TextUnmarshaler", err)
	case env.NoSupportedTagOptionError:
		return fe(RuleEnvTag, fmt.Sprintf("env tag option %q is not supported", e.Tag), err)
	}
	if secret {
		return fe(RuleParse, "secret value rejected", nil)
	}
	return fe(RuleParse, err.Error(), err)
}

// causeText shortens strconv errors, whose text repeats the whole input.
func causeText(err error, raw string) string {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		if ne.Num == raw {
			return ne.Err.Error()
		}
		return quoteShort(ne.Num) + ": " + ne.Err.Error()
	}
	return err.Error()
}
