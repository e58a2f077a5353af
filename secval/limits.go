package secval

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/chassis-go/chassis/problem"
)

// Default limits, used for the zero fields of [Limits].
const (
	DefaultMaxDepth     = 32
	DefaultMaxBytes     = 1 << 20 // 1 MiB
	DefaultMaxKeys      = 1000
	DefaultMaxElements  = 10000
	DefaultMaxStringLen = 64 << 10 // 64 KiB
)

// ErrLimit is wrapped by every error that reports a limit of [Limits] being
// exceeded (a denied key included), so errors.Is(err, ErrLimit) tells a
// hostile or oversized document from a malformed one. The *problem.Error
// that wraps it carries the limit's name in its "limit" extension.
var ErrLimit = errors.New("secval: limit exceeded")

// ErrSyntax is wrapped by the error [Limits.Check] returns for input that is
// not valid JSON. [Limits.Reader] never returns it: it leaves malformed input
// to the JSON decoder (see Reader).
var ErrSyntax = errors.New("secval: invalid JSON")

// Limits bounds what an untrusted JSON document may contain. Every field's
// zero value means the documented default and a negative value means no
// limit, so the zero Limits is the recommended policy: depth 32, 1 MiB,
// 1000 keys per object, 10000 elements per array, 64 KiB per string and the
// prototype-pollution deny list.
//
// A Limits is a plain value: it is safe to copy and to use from many
// goroutines at once, and its methods never modify it.
type Limits struct {
	// MaxDepth is the deepest nesting of objects and arrays allowed: "1"
	// has depth 0, "[1]" depth 1 and {"a":[1]} depth 2. Zero means 32.
	MaxDepth int

	// MaxBytes is the largest document size in bytes, whitespace included.
	// Exceeding it is reported as 413 Payload Too Large rather than 400.
	// Zero means 1 MiB (1 << 20).
	MaxBytes int64

	// MaxKeys is the largest number of members in any one object,
	// duplicates counted. Zero means 1000. There is no separate limit on
	// the total number of keys in the document: MaxBytes bounds it.
	MaxKeys int

	// MaxElements is the largest number of elements in any one array.
	// Zero means 10000.
	MaxElements int

	// MaxStringLen is the longest string, key or value, in bytes as the
	// string appears in the JSON text between its quotes (escape
	// sequences count with their backslash: `\n` is 2 bytes, `\u00e9` 6).
	// Zero means 64 KiB; raise it for endpoints that accept base64 blobs.
	MaxStringLen int

	// DenyKeys lists object keys that are rejected wherever they appear.
	// Keys are compared after JSON unescaping ("\u005f_proto__" is
	// "__proto__") and case-insensitively with Unicode simple folding, the
	// rule encoding/json uses to match keys to struct fields, so neither
	// "__PROTO__" nor "con\u017ftructor" slips through. A nil DenyKeys
	// means [DefaultDenyKeys]; a non-nil empty slice denies nothing.
	DenyKeys []string
}

// DefaultDenyKeys returns the keys denied when [Limits].DenyKeys is nil:
// "__proto__", "constructor" and "prototype", which reach JavaScript
// prototypes when a document is forwarded to a JavaScript consumer. The
// result is a new slice each call, so callers may append to it.
func DefaultDenyKeys() []string {
	return []string{"__proto__", "constructor", "prototype"}
}

// resolved is Limits with defaults applied and "no limit" spelled as the
// largest value of the type.
type resolved struct {
	maxDepth, maxKeys, maxElems, maxStr int
	maxBytes                            int64
	deny                                []string
	keyCap                              int // bytes of unescaped key worth keeping
	first                               [256 / 32]uint32
}

// firstByte reports whether an unescaped key starting with byte c could
// match a deny key.
func (r *resolved) firstByte(c byte) bool { return r.first[c/32]&(1<<(c%32)) != 0 }

func (r *resolved) setFirst(c byte) { r.first[c/32] |= 1 << (c % 32) }

func (l Limits) resolve() resolved {
	r := resolved{
		maxDepth: pick(l.MaxDepth, DefaultMaxDepth),
		maxKeys:  pick(l.MaxKeys, DefaultMaxKeys),
		maxElems: pick(l.MaxElements, DefaultMaxElements),
		maxStr:   pick(l.MaxStringLen, DefaultMaxStringLen),
		maxBytes: math.MaxInt64,
		deny:     l.DenyKeys,
	}
	switch {
	case l.MaxBytes == 0:
		r.maxBytes = DefaultMaxBytes
	case l.MaxBytes > 0:
		r.maxBytes = l.MaxBytes
	}
	if r.deny == nil {
		r.deny = defaultDeny[:]
	}
	for _, k := range r.deny {
		// A key that folds to k has as many runes as k, each at most
		// utf8.UTFMax bytes once unescaped.
		if n := utf8.UTFMax * utf8.RuneCountInString(k); n > r.keyCap {
			r.keyCap = n
		}
		// Record the first byte of every rune that folds to k's first.
		first, _ := utf8.DecodeRuneInString(k)
		if k == "" {
			continue
		}
		if first == utf8.RuneError {
			for c := 0x80; c < 0x100; c++ { // any invalid byte decodes to U+FFFD
				r.setFirst(byte(c))
			}
		}
		f := first
		for {
			var b [utf8.UTFMax]byte
			utf8.EncodeRune(b[:], f)
			r.setFirst(b[0])
			if f = unicode.SimpleFold(f); f == first {
				break
			}
		}
	}
	return r
}

// defaultDeny backs resolve's nil-DenyKeys case without allocating; it is
// never written.
var defaultDeny = [...]string{"__proto__", "constructor", "prototype"}

func pick(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return math.MaxInt
	}
	return v
}

// Check reports whether data is a single valid JSON value within l, in one
// pass and without allocating on success. It returns nil, or a
// *problem.Error: 413 wrapping [ErrLimit] when data exceeds MaxBytes (checked
// before anything else), 400 wrapping ErrLimit for any other limit, with the
// limit named in the "limit" extension ("max_depth", "max_keys",
// "max_elements", "max_string_len", "deny_keys"), or 400 wrapping [ErrSyntax]
// with the offset of the first offending byte.
//
// Check accepts exactly what [encoding/json.Valid] accepts when no limit is
// reached (invalid UTF-8 inside strings included, as encoding/json replaces
// it rather than rejecting it); the fuzz test FuzzCheck verifies this.
func (l Limits) Check(data []byte) error {
	var s scanner
	s.init(l.resolve(), false)
	if int64(len(data)) > s.lim.maxBytes {
		return tooLarge(s.lim.maxBytes)
	}
	if _, err := s.feed(data); err != nil {
		return s.problem(err)
	}
	return s.problem(s.end())
}

// Reader returns a reader that yields r's bytes while checking them against
// l, so that a JSON decoder reading from it validates the document in the
// same pass that decodes it:
//
//	err := json.NewDecoder(limits.Reader(body)).Decode(&v)
//
// When a limit is exceeded, Read returns the bytes before the offending one
// together with a *problem.Error shaped as [Limits.Check] describes, and the
// same error on every later call. Since every limit is reached inside a value
// (or, for MaxBytes, before the input ends), the decoder never sees that
// value complete and returns the error instead; with encoding/json it comes
// back unchanged, so errors.As finds the *problem.Error.
//
// The Reader accepts a stream of JSON values, as [encoding/json.Decoder]
// does; MaxBytes applies to the whole stream. It does not report malformed
// JSON: at the first syntax error it stops checking structure (MaxBytes
// still applies) and passes the bytes through, and the decoder, which
// parses the same grammar, rejects the input at that point with its own
// error. So the guarantee is: whatever a decoder reading from the Reader
// decodes without error is within l.
//
// The Reader is not safe for concurrent use. Panics if r is nil.
func (l Limits) Reader(r io.Reader) io.Reader {
	if r == nil {
		panic("secval.Limits.Reader: r is nil; pass the body to check")
	}
	rd := &reader{src: r}
	rd.s.init(l.resolve(), true)
	return rd
}

type reader struct {
	src         io.Reader
	s           scanner
	n           int64 // bytes delivered so far
	err         error // sticky limit error
	passthrough bool  // a syntax error was seen: the decoder will reject
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.src.Read(p)
	if n <= 0 {
		return n, err
	}
	allowed := n
	over := false
	if rem := r.s.lim.maxBytes - r.n; int64(n) > rem {
		allowed, over = int(rem), true
	}
	if !r.passthrough {
		k, verr := r.s.feed(p[:allowed])
		switch {
		case verr == errSyntaxMark:
			r.passthrough = true
		case verr != nil:
			r.err = r.s.problem(verr)
			r.n += int64(k)
			return k, r.err
		}
	}
	r.n += int64(allowed)
	if over {
		r.err = tooLarge(r.s.lim.maxBytes)
		return allowed, r.err
	}
	return n, err
}

// violation is the unexported error feed returns; problem turns it into
// the exported shape.
type violation struct {
	limit  string // "" for a syntax error
	detail string
}

func (v *violation) Error() string { return v.detail }

// errSyntaxMark is feed's syntax error; the offset lives in the scanner.
var errSyntaxMark = &violation{detail: "syntax"}

func (s *scanner) problem(err error) error {
	if err == nil {
		return nil
	}
	v := err.(*violation)
	if v == errSyntaxMark {
		return problem.BadRequest(fmt.Sprintf("invalid JSON at offset %d", s.off)).Wrap(ErrSyntax)
	}
	return problem.BadRequest(v.detail).With("limit", v.limit).Wrap(ErrLimit)
}

func tooLarge(max int64) error {
	return problem.New(http.StatusRequestEntityTooLarge, fmt.Sprintf("JSON body exceeds %d bytes", max)).
		With("limit", "max_bytes").Wrap(ErrLimit)
}
