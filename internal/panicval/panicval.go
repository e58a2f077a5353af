// Package panicval turns a recovered panic value into bounded text that is
// safe to log, put in an error message or send to a span.
//
// fmt.Sprint on a recovered value is not safe: a 10 MB string becomes a
// 10 MB log line, and a map that contains itself recurses until the
// goroutine's stack overflows, which is a fatal error no recover can catch.
// String formats only what cannot recurse: strings, errors and Stringers
// (their own text, truncated), and scalar kinds; any other value is named
// by its type.
package panicval

import (
	"fmt"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// MaxLen is the most bytes String returns, not counting the marker it
// appends when it cuts the text.
const MaxLen = 1024

// truncated is appended to text that String cut at MaxLen.
const truncated = "…(truncated)"

// String returns a description of v of at most MaxLen bytes (plus a marker
// when cut). An Error or String method that itself panics is described by
// v's type instead.
func String(v any) (s string) {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case string:
		return clip(x)
	case error:
		return method(v, x.Error)
	case fmt.Stringer:
		return method(v, x.String)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(rv.Float(), 'g', -1, 64)
	case reflect.String:
		return clip(rv.String())
	}
	return "(" + typeName(v) + ")"
}

// method calls an Error or String method, which is user code and may panic.
func method(v any, f func() string) (s string) {
	defer func() {
		if recover() != nil {
			s = "(" + typeName(v) + " whose text method panicked)"
		}
	}()
	return clip(f())
}

func typeName(v any) string { return clip(reflect.TypeOf(v).String()) }

// clip cuts s to at most MaxLen bytes on a rune boundary.
func clip(s string) string {
	if len(s) <= MaxLen {
		return s
	}
	cut := MaxLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncated
}
