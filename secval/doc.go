// Package secval hardens a service against hostile JSON: documents nested
// deep enough to exhaust a stack, objects with a million keys, megabyte
// strings, and keys such as "__proto__" that pollute JavaScript prototypes
// when the document is passed on.
//
// Most services need only the zero [Limits] and its [Limits.Reader], which
// validates while the JSON decoder reads, so the body is parsed once:
//
//	var in createUser
//	dec := json.NewDecoder(secval.Limits{}.Reader(r.Body))
//	if err := dec.Decode(&in); err != nil {
//		// A broken limit is a *problem.Error (400 or 413) wrapping ErrLimit;
//		// malformed JSON is encoding/json's own error.
//		...
//	}
//
// httpkit.DecodeJSON does exactly this, together with the Content-Type and
// trailing-data checks an HTTP handler wants, and maps every failure to a
// problem. [Limits.Check] validates a document already in memory.
//
// # Limits
//
// Each field of [Limits] is zero for its default and negative for "no
// limit". A document that breaks a limit gets a *problem.Error naming it,
// for example a 400 with detail "JSON nesting exceeds 32 levels" and the
// extension member "limit": "max_depth"; the size limit gives 413. Every
// such error wraps [ErrLimit].
//
// # Deny list
//
// Keys are compared as encoding/json sees them when it matches struct
// fields: after unescaping and case-insensitively with Unicode folding, so
// "\u005f_proto__", "__Proto__" and "con\u017ftructor" (with a long s) are
// all caught. Values are never compared: {"note": "__proto__"} is fine.
//
// Near misses are allowed on purpose: a key is denied exactly when
// encoding/json would decode it into a struct field named by the deny key.
// "__proto__\u0000" (a trailing NUL), "＿＿proto＿＿" (fullwidth low
// lines), fullwidth letters, zero-width characters and surrounding spaces
// all name another property, for encoding/json and for JavaScript engines
// alike, which compare property names exactly; normalizing them (NFKC,
// stripping controls) would reject legitimate keys without stopping any
// attack on those consumers. If a consumer of the documents normalizes
// keys itself, add the forms it maps to a deny key to [Limits].DenyKeys.
//
// # What is guaranteed
//
// The validator is a small hand-written state machine that reads each byte
// once and allocates nothing per document (beyond 32 levels of nesting, or
// for a deny key longer than 32 characters, it allocates once). Its grammar
// is encoding/json's: with no limit reached, Check accepts exactly what
// [encoding/json.Valid] accepts. The fuzz target FuzzCheck checks that, that
// the Reader agrees with Check however the input is split, that an accepted
// document decodes without a denied key, and that the depth, key and element
// counts agree with encoding/json's own tokenizer.
package secval
