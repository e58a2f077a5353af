package logz

import (
	"bytes"
	"log/slog"
	"strings"
)

// RedactedText replaces the value of every attribute whose key is sensitive.
const RedactedText = "[REDACTED]"

// DefaultRedactKeys returns the words that make an attribute key sensitive in
// every [Handler], in addition to those given to [NewHandler] or
// [Options.RedactKeys]: password, passwd, secret, token, authorization, cookie,
// apikey, privatekey and credential. See [NewHandler] for how keys are
// matched. Each call returns a new slice.
func DefaultRedactKeys() []string {
	return []string{
		"password", "passwd", "secret", "token", "authorization", "cookie",
		"apikey", "privatekey", "credential",
	}
}

// redactor decides which keys are sensitive. It is immutable once built.
type redactor struct {
	words [][]byte // normalized
	// byFirst lists, for each byte, the words that start with it, so that
	// most positions of a key are rejected by one table lookup.
	byFirst [256][][]byte
}

func newRedactor(extra []string) *redactor {
	r := &redactor{}
	for _, w := range append(DefaultRedactKeys(), extra...) {
		if n := normalize(w); n != "" {
			r.words = append(r.words, []byte(n))
			r.byFirst[n[0]] = append(r.byFirst[n[0]], []byte(n))
		}
	}
	return r
}

// normalize lowercases ASCII letters and drops the separators '_', '-', '.'
// and ' ', so that "API_Key", "api-key" and "apikey" compare equal.
func normalize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isSep(c) {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isSep(c byte) bool { return c == '_' || c == '-' || c == '.' || c == ' ' }

// sensitive reports whether key, normalized, contains one of the words.
func (r *redactor) sensitive(key string) bool {
	var buf [64]byte
	n := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		if isSep(c) {
			continue
		}
		if n == len(buf) {
			return r.sensitiveSlow(key)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	b := buf[:n]
	for i, c := range b {
		for _, w := range r.byFirst[c] {
			if bytes.HasPrefix(b[i:], w) {
				return true
			}
		}
	}
	return false
}

func (r *redactor) sensitiveSlow(key string) bool {
	k := normalize(key)
	for _, w := range r.words {
		if strings.Contains(k, string(w)) {
			return true
		}
	}
	return false
}

// dirty reports whether a needs rewriting: its key is sensitive, or its
// value is a LogValuer (which must be resolved before it can be checked) or
// a group holding such an attribute.
func (r *redactor) dirty(a slog.Attr) bool {
	if a.Key != "" && r.sensitive(a.Key) {
		return true
	}
	switch a.Value.Kind() {
	case slog.KindLogValuer:
		return true
	case slog.KindGroup:
		for _, ga := range a.Value.Group() {
			if r.dirty(ga) {
				return true
			}
		}
	}
	return false
}

// redact returns a with every sensitive value, at any depth, replaced by
// RedactedText, and LogValuers resolved.
func (r *redactor) redact(a slog.Attr) slog.Attr {
	if a.Key != "" && r.sensitive(a.Key) {
		return slog.String(a.Key, RedactedText)
	}
	v := a.Value
	if v.Kind() == slog.KindLogValuer {
		v = v.Resolve()
	}
	if v.Kind() == slog.KindGroup {
		in := v.Group()
		var out []slog.Attr
		for i, ga := range in {
			if !r.dirty(ga) {
				continue
			}
			if out == nil {
				out = make([]slog.Attr, len(in))
				copy(out, in)
			}
			out[i] = r.redact(ga)
		}
		if out != nil {
			v = slog.GroupValue(out...)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
