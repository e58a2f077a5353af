package config

import (
	"encoding"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode"
)

// RedactedText replaces the value of every secret field in [Redacted]'s
// output.
const RedactedText = "[REDACTED]"

var textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()

// Redacted renders cfg, a config struct or a pointer to one, as a
// [slog.Value] for logging:
//
//	logger.Info("starting", "config", config.Redacted(cfg))
//
// The value is a group with one attribute per field that has an env key,
// keyed by the full variable name (with the same prefixes [Load] used, so
// pass the same [WithPrefix] option), in field order. A field tagged
// secret:"true", or with a secret tag that is not a boolean, shows
// [RedactedText] whatever its value, even when empty. A url.URL, and a
// string that parses as an absolute URL ("postgres://u:pw@db/app?..."),
// shows its password as "xxxxx", and so the value of every query parameter
// whose name contains, ignoring case, '_', '-' and '.', one of password,
// passwd, pwd, secret, token, key, auth, credential or signature
// ("?sslpassword=", "&access_token=", "&X-Amz-Signature=", "&apiKey=").
// A time.Duration shows its String form ("1m30s", readable in JSON logs
// too). These are safety nets: tag every field that holds a secret
// secret:"true". Fields without an env key and nil pointers to nested
// structs are left out.
//
// Redacted only reads cfg; it is safe to call concurrently with other
// readers. It does not panic: anything that is not a struct renders as a
// string explaining the mistake.
func Redacted(cfg any, opts ...Option) slog.Value {
	o := options{}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	rv := reflect.ValueOf(cfg)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return slog.StringValue("!config.Redacted: " + describe(cfg) + " is not a struct")
	}
	var attrs []slog.Attr
	w := walker{visit: func(l leaf) {
		if l.key == "" || l.group {
			return
		}
		if secret, _ := l.secret(); secret {
			attrs = append(attrs, slog.String(l.key, RedactedText))
			return
		}
		attrs = append(attrs, slog.Attr{Key: l.key, Value: logValue(l.v)})
	}}
	w.walkStruct(rv, o.prefix, "")
	return slog.GroupValue(attrs...)
}

func describe(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).String()
}

func logValue(v reflect.Value) slog.Value {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return slog.AnyValue(nil)
		}
		v = v.Elem()
	}
	switch v.Type() {
	case urlType:
		u := v.Interface().(url.URL)
		return slog.StringValue(redactURL(&u))
	case durationType:
		return slog.StringValue(time.Duration(v.Int()).String()) // "1m0s", not nanoseconds, in JSON too
	case timeType:
		return slog.TimeValue(v.Interface().(time.Time))
	}
	if v.Type().Implements(textMarshalerType) {
		return slog.AnyValue(v.Interface())
	}
	if reflect.PointerTo(v.Type()).Implements(textMarshalerType) {
		p := reflect.New(v.Type()) // a copy, so that cfg is never handed out
		p.Elem().Set(v)
		return slog.AnyValue(p.Interface())
	}
	switch k := v.Kind(); {
	case k == reflect.String:
		return slog.StringValue(redactURLString(v.String()))
	case k == reflect.Bool:
		return slog.BoolValue(v.Bool())
	case isIntKind(k):
		return slog.Int64Value(v.Int())
	case isUintKind(k):
		return slog.Uint64Value(v.Uint())
	case k == reflect.Float32 || k == reflect.Float64:
		return slog.Float64Value(v.Float())
	}
	return slog.AnyValue(v.Interface())
}

// redactURL returns u as text with its password and its secret query
// values replaced by "xxxxx".
func redactURL(u *url.URL) string {
	if u.RawQuery == "" {
		return u.Redacted()
	}
	c := *u
	parts := strings.Split(c.RawQuery, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		if name, err := url.QueryUnescape(k); err == nil {
			k = name
		}
		if hasValue && secretParam(k) {
			parts[i] = p[:strings.IndexByte(p, '=')] + "=xxxxx"
		}
	}
	c.RawQuery = strings.Join(parts, "&")
	return c.Redacted()
}

// redactURLString redacts s like a url.URL if it is an absolute URL with a
// password or a query, and returns it unchanged otherwise.
func redactURLString(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		// Not a URL after all, but it may still hold credentials.
		if at := strings.LastIndex(s, "@"); at > strings.Index(s, "://") {
			return s[:strings.Index(s, "://")+3] + "xxxxx" + s[at:]
		}
		return s
	}
	if u.Scheme == "" || (u.User == nil && u.RawQuery == "") {
		return s
	}
	return redactURL(u)
}

// secretParam reports whether the query parameter name, lower-cased and
// without '_', '-' and '.', contains one of the words Redacted lists.
func secretParam(name string) bool {
	n := strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.':
			return -1
		}
		return unicode.ToLower(r)
	}, name)
	for _, w := range [...]string{"password", "passwd", "pwd", "secret", "token", "key", "auth", "credential", "signature"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
