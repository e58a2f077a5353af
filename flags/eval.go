package flags

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/open-feature/go-sdk/openfeature"
)

// Bucket returns the rollout bucket, in [0, total), of the subject with
// targeting key targetingKey for the flag flagKey with salt salt. It is the
// function every rollout uses, exported so that other services, in any
// language, can reproduce an assignment:
//
//	h      = SHA-256(flagKey + "\x00" + salt + "\x00" + targetingKey)   // UTF-8 bytes
//	bucket = uint64(big-endian h[0:8]) mod total
//
// A rollout's entries own consecutive ranges of buckets in file order: with
// [{"variant":"on","weight":10},{"variant":"off","weight":90}] buckets 0–9
// are "on" and 10–99 are "off". Raising the first weight while keeping the
// total therefore only adds subjects to "on"; changing the salt reshuffles
// everyone. Bucket panics if total is 0.
func Bucket(flagKey, salt, targetingKey string, total uint64) uint64 {
	if total == 0 {
		panic("flags.Bucket: total is 0; pass the sum of the rollout's weights")
	}
	return bucket(flagKey, salt, targetingKey, total)
}

func bucket(flagKey, salt, targetingKey string, total uint64) uint64 {
	// A stack buffer keeps the common case (short keys) free of allocations.
	var buf [256]byte
	b := append(buf[:0], flagKey...)
	b = append(b, 0)
	b = append(b, salt...)
	b = append(b, 0)
	b = append(b, targetingKey...)
	sum := sha256.Sum256(b)
	return binary.BigEndian.Uint64(sum[:8]) % total
}

// outcome is a flag's resolution before it is typed: the variant chosen
// (nil when the caller's default applies) and the details to report.
type outcome struct {
	v      *variant
	detail openfeature.ProviderResolutionDetail
}

// resolve evaluates flag key, read as kind want, against fc. It reads only
// the immutable ruleset it loaded, so it never blocks, and it allocates only
// to build an error's message.
func (p *Provider) resolve(key string, want kind, fc openfeature.FlattenedContext) outcome {
	rs := p.cur.Load()
	if rs == nil {
		return failed(openfeature.NewProviderNotReadyResolutionError("flags: no flags loaded yet from " + p.src.String()))
	}
	f, ok := rs.flags[key]
	if !ok {
		return failed(openfeature.NewFlagNotFoundResolutionError("flags: no flag " + quote(key)))
	}
	if f.kind != want && !(want == kindFloat && f.kind == kindInt) {
		return failed(openfeature.NewTypeMismatchResolutionError("flags: flag " + quote(key) + " is " + f.kind.String() + ", not " + want.String()))
	}
	if f.disabled {
		return outcome{detail: openfeature.ProviderResolutionDetail{Reason: openfeature.DisabledReason}}
	}
	for i := range f.rules {
		r := &f.rules[i]
		if !r.matches(fc) {
			continue
		}
		if r.split == nil {
			return f.served(r.variant, openfeature.TargetingMatchReason)
		}
		return f.splitBy(r.split, fc)
	}
	if f.split != nil {
		return f.splitBy(f.split, fc)
	}
	reason := openfeature.StaticReason
	if len(f.rules) > 0 {
		reason = openfeature.DefaultReason // rules exist but none matched
	}
	return f.served(f.def, reason)
}

func failed(err openfeature.ResolutionError) outcome {
	return outcome{detail: openfeature.ProviderResolutionDetail{ResolutionError: err, Reason: openfeature.ErrorReason}}
}

func (f *flag) served(v int, reason openfeature.Reason) outcome {
	return outcome{
		v:      &f.variants[v],
		detail: openfeature.ProviderResolutionDetail{Reason: reason, Variant: f.variants[v].name},
	}
}

// splitBy picks a variant from r by the targeting key's bucket. Without a
// targeting key a rollout cannot be sticky, so it is an error rather than a
// silent fallback that would hide a caller's missing key.
func (f *flag) splitBy(r *rollout, fc openfeature.FlattenedContext) outcome {
	tk, _ := fc[openfeature.TargetingKey].(string)
	if tk == "" {
		return failed(openfeature.NewTargetingKeyMissingResolutionError("flags: flag " + quote(f.key) + " has a rollout and the evaluation context has no targeting key"))
	}
	return f.served(r.pick(bucket(f.key, f.salt, tk, r.total)), openfeature.SplitReason)
}

// matches reports whether every condition of r holds for fc.
func (r *rule) matches(fc openfeature.FlattenedContext) bool {
	for i := range r.when {
		if !r.when[i].holds(fc) {
			return false
		}
	}
	return true
}

// holds reports whether c holds for fc. A condition on an attribute fc lacks
// is false whatever its op, so that not_in never matches missing data.
func (c *cond) holds(fc openfeature.FlattenedContext) bool {
	v, ok := fc[c.attr]
	if !ok || v == nil {
		return false
	}
	switch c.op {
	case opPresent:
		return true
	case opIn, opNotIn:
		return c.contains(v) == (c.op == opIn)
	case opStartsWith, opEndsWith:
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, p := range c.strs {
			if (c.op == opStartsWith && strings.HasPrefix(s, p)) || (c.op == opEndsWith && strings.HasSuffix(s, p)) {
				return true
			}
		}
		return false
	}
	n, ok := toFloat(v)
	if !ok {
		return false
	}
	switch c.op {
	case opLT:
		return n < c.nums[0]
	case opLTE:
		return n <= c.nums[0]
	case opGT:
		return n > c.nums[0]
	default: // opGTE
		return n >= c.nums[0]
	}
}

// contains reports whether v equals one of c's values. Types are not
// converted: the string "5" does not equal the number 5.
func (c *cond) contains(v any) bool {
	switch x := v.(type) {
	case string:
		for _, s := range c.strs {
			if s == x {
				return true
			}
		}
	case bool:
		for _, b := range c.bools {
			if b == x {
				return true
			}
		}
	default:
		n, ok := toFloat(v)
		if !ok {
			return false
		}
		for _, m := range c.nums {
			if m == n {
				return true
			}
		}
	}
	return false
}

// toFloat converts Go's numeric types, which evaluation contexts may hold, to
// float64.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// quote quotes s for an error message, bounded so that a caller passing a
// huge flag key cannot make huge errors.
func quote(s string) string {
	const limit = 128
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}

// deepCopy copies an object variant so that a caller mutating the value it
// got cannot change what other evaluations return.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}
