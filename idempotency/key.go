package idempotency

import (
	"errors"
	"strings"
)

// MaxKeyLength is the longest Idempotency-Key accepted, in bytes after
// unquoting. Longer keys are answered 400.
const MaxKeyLength = 255

var (
	errKeyMultiple = errors.New("more than one Idempotency-Key header")
	errKeyEmpty    = errors.New("empty Idempotency-Key")
	errKeyLong     = errors.New("Idempotency-Key longer than 255 characters")
	errKeySyntax   = errors.New("malformed Idempotency-Key: want a quoted string of printable ASCII, or a bare key of letters, digits and -._~:+/=")
)

// parseKey returns the key of the Idempotency-Key field values. The draft
// makes the field a Structured Field String (RFC 8941: "..." with \" and \\
// escapes, printable ASCII); many clients send the key bare (a UUID, say), so
// a bare key of letters, digits and -._~:+/= is accepted too. Parameters are
// not defined by the draft and are refused, as is anything else, so that a
// key never carries bytes a log or a store could misread.
func parseKey(values []string) (string, error) {
	if len(values) != 1 {
		return "", errKeyMultiple
	}
	v := strings.Trim(values[0], " ")
	if v == "" {
		return "", errKeyEmpty
	}
	var key string
	if v[0] == '"' {
		k, err := parseSFString(v)
		if err != nil {
			return "", err
		}
		key = k
	} else {
		for i := 0; i < len(v); i++ {
			if !bareKeyChar(v[i]) {
				return "", errKeySyntax
			}
		}
		key = v
	}
	switch {
	case key == "":
		return "", errKeyEmpty
	case len(key) > MaxKeyLength:
		return "", errKeyLong
	}
	return key, nil
}

// parseSFString parses v, which starts with a quote, as an RFC 8941 String
// filling the whole of v.
func parseSFString(v string) (string, error) {
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\':
			i++
			if i == len(v) || (v[i] != '"' && v[i] != '\\') {
				return "", errKeySyntax
			}
			b.WriteByte(v[i])
		case c == '"':
			if i != len(v)-1 {
				return "", errKeySyntax
			}
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return "", errKeySyntax
		default:
			b.WriteByte(c)
		}
		if b.Len() > MaxKeyLength {
			return "", errKeyLong
		}
	}
	return "", errKeySyntax // no closing quote
}

func bareKeyChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:+/=", c) >= 0
}
