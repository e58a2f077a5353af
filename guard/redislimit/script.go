package redislimit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/guard"
)

// gcraScript is guard's GCRA (see the gcra doc comment in guard/limit.go) in
// integer microseconds of Redis server time. Lua numbers are doubles: every
// value stays below 2^53 because New bounds the window L to 2^52µs and Unix
// time in µs is about 2^51 today. Numbers are written with
// string.format('%d'), never tostring (which keeps only 14 digits).
//
// KEYS[1]  the key holding the TAT (µs since the Unix epoch)
// ARGV[1]  T, the emission interval in µs (>= 1)
// ARGV[2]  L = Burst*T, the window in µs
//
// It returns {allowed (0 or 1), resetAfter (µs)}. Allowed: resetAfter is
// next - now and the key is set to next, expiring when fully replenished.
// Denied: resetAfter is max(TAT, now) - now and the key is unchanged. The
// caller derives Remaining and RetryAfter from these with integer arithmetic.
//
// redis.replicate_commands() is a no-op on Redis 7 (effects replication is
// the only mode); on Redis 3.2 to 6 it allows writes after the
// non-deterministic TIME.
const gcraScript = `
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = now
local v = redis.call('GET', KEYS[1])
if v then
  local stored = tonumber(v)
  if not stored then
    return redis.error_reply('redislimit: key holds a non-numeric value')
  end
  if stored > now then tat = stored end
end
local nxt = tat + interval
if nxt - now > window then
  return {0, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', string.format('%d', math.ceil((nxt - now) / 1000)))
return {1, nxt - now}
`

// maxWindow bounds L in microseconds so that now + L stays below 2^53.
const maxWindow = 1 << 52

// maxLiteralKey is the longest key stored as is; longer keys are hashed.
const maxLiteralKey = 256

// params is a normalized Limit in the integer microseconds the script uses.
type params struct {
	interval int64 // T in µs: Per/Rate in ns, rounded up to a whole µs
	window   int64 // L = Burst*T in µs
}

// paramsOf converts l (normalized) to microseconds, or reports why it cannot.
func paramsOf(l guard.Limit) (params, error) {
	ns := int64(l.Per) / int64(l.Rate)
	t := (ns + 999) / 1000
	if int64(l.Burst) > maxWindow/t {
		return params{}, fmt.Errorf("Limit.Burst*Per/Rate must be at most 2^52µs (about 142 years), got Burst %d with an interval of %dµs", l.Burst, t)
	}
	return params{interval: t, window: t * int64(l.Burst)}, nil
}

// errReply reports a script reply that is not what gcraScript returns.
var errReply = errors.New("redislimit: unexpected script reply")

// decide converts the script's reply into a Decision for l (normalized).
func (p params) decide(l guard.Limit, allowed bool, resetAfter int64) guard.Decision {
	if allowed {
		return guard.Decision{
			Allowed:    true,
			Limit:      l,
			Remaining:  int(max(0, (p.window-resetAfter)/p.interval)),
			ResetAfter: time.Duration(resetAfter) * time.Microsecond,
		}
	}
	return guard.Decision{
		Limit: l,
		// The script denies only when resetAfter + T > L, so this is > 0.
		RetryAfter: time.Duration(max(1, resetAfter+p.interval-p.window)) * time.Microsecond,
		ResetAfter: time.Duration(resetAfter) * time.Microsecond,
	}
}

// parseReply checks and unpacks the script's reply.
func parseReply(v any) (allowed bool, resetAfter int64, err error) {
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return false, 0, fmt.Errorf("%w: %T", errReply, v)
	}
	flag, ok1 := a[0].(int64)
	reset, ok2 := a[1].(int64)
	if !ok1 || !ok2 || (flag != 0 && flag != 1) || reset < 0 {
		return false, 0, fmt.Errorf("%w: %v", errReply, a)
	}
	return flag == 1, reset, nil
}

// redisKey returns the Redis key for the user key: prefix{key}. The braces
// make key the Redis Cluster hash tag. A key longer than 256 bytes or
// containing a brace (which would change the hash tag) is replaced by the
// hex SHA-256 of its bytes, as prefix{hex}#: the trailing '#' keeps hashed
// keys apart from literal ones, which always end in '}'.
func redisKey(prefix, key string) string {
	if len(key) <= maxLiteralKey && !strings.ContainsAny(key, "{}") {
		var b strings.Builder
		b.Grow(len(prefix) + len(key) + 2)
		b.WriteString(prefix)
		b.WriteByte('{')
		b.WriteString(key)
		b.WriteByte('}')
		return b.String()
	}
	sum := sha256.Sum256([]byte(key))
	var b strings.Builder
	b.Grow(len(prefix) + 2*len(sum) + 3)
	b.WriteString(prefix)
	b.WriteByte('{')
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	b.Write(h[:])
	b.WriteString("}#")
	return b.String()
}

// newScript returns the GCRA script; Run sends EVALSHA and falls back to
// EVAL (which also caches it) when the server answers NOSCRIPT.
func newScript() *redis.Script { return redis.NewScript(gcraScript) }
