package redislimit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/guard/redislimit"
)

// hashTag returns the part of a Redis key that Redis Cluster hashes: the
// text between the first '{' and the first '}' after it, if non-empty, or
// else the whole key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestRedisKey(t *testing.T) {
	long := strings.Repeat("x", 256)
	tests := []struct {
		name, prefix, key, want string
	}{
		{"plain", "", "client-42", "chassis:rl:{client-42}"},
		{"custom prefix", "api:", "client-42", "api:{client-42}"},
		{"empty prefix", "-", "k", "{k}"},
		{"empty key", "", "", "chassis:rl:{}"},
		{"IPv6", "", "2001:db8::/64", "chassis:rl:{2001:db8::/64}"},
		{"256 bytes", "", long, "chassis:rl:{" + long + "}"},
		{"257 bytes", "", long + "x", "chassis:rl:{" + sha(long+"x") + "}#"},
		{"open brace", "", "a{b", "chassis:rl:{" + sha("a{b") + "}#"},
		{"close brace", "", "a}b", "chassis:rl:{" + sha("a}b") + "}#"},
		{"both braces", "", "{x}", "chassis:rl:{" + sha("{x}") + "}#"},
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = c.Close() })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []redislimit.Option
			switch tc.prefix {
			case "":
			case "-":
				opts = append(opts, redislimit.WithPrefix(""))
			default:
				opts = append(opts, redislimit.WithPrefix(tc.prefix))
			}
			lim := redislimit.New(c, guard.PerSecond(1), opts...)
			if got := lim.RedisKey(tc.key); got != tc.want {
				t.Errorf("RedisKey(%.40q) = %q; want %q", tc.key, got, tc.want)
			}
		})
	}
}

// TestStoredKeys checks that the state really lives under RedisKey and
// that keys differing only by braces or length stay apart.
func TestStoredKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c redis.UniversalClient, prefix string) {
		ctx := context.Background()
		lim := redislimit.New(c, guard.Limit{Rate: 1, Per: 1 << 40}, patient, redislimit.WithPrefix(prefix))
		keys := []string{"a", "{a}", "a}", sha("{a}"), strings.Repeat("k", 300), strings.Repeat("k", 301)}
		for _, key := range keys {
			if d, err := lim.Allow(ctx, key); err != nil || !d.Allowed {
				t.Errorf("Allow(%.20q) = %+v, %v; want allowed (a key of its own)", key, d, err)
			}
			if n, err := c.Exists(ctx, lim.RedisKey(key)).Result(); err != nil || n != 1 {
				t.Errorf("EXISTS %s = %d, %v; want 1", lim.RedisKey(key), n, err)
			}
		}
	})
}

func FuzzRedisKey(f *testing.F) {
	for _, seed := range []string{"", "client-42", "{", "}", "a{b}c", "}{", strings.Repeat("é", 200), "\x00\xff"} {
		f.Add(seed)
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer c.Close()
	const prefix = "p:"
	lim := redislimit.New(c, guard.PerSecond(1), redislimit.WithPrefix(prefix))
	f.Fuzz(func(t *testing.T, key string) {
		rk := lim.RedisKey(key)
		if !strings.HasPrefix(rk, prefix+"{") {
			t.Fatalf("RedisKey(%q) = %q; want prefix %q", key, rk, prefix+"{")
		}
		if len(rk) > len(prefix)+259 {
			t.Errorf("len(RedisKey(%q)) = %d; want <= %d", key, len(rk), len(prefix)+259)
		}
		literal := len(key) <= 256 && !strings.ContainsAny(key, "{}")
		switch {
		case literal && rk != prefix+"{"+key+"}":
			t.Errorf("RedisKey(%q) = %q; want %q", key, rk, prefix+"{"+key+"}")
		case !literal && rk != prefix+"{"+sha(key)+"}#":
			t.Errorf("RedisKey(%q) = %q; want the hashed form", key, rk)
		}
		// The Cluster hash tag is the key itself or its hash: all of the
		// key's state is in one slot, whatever the key.
		if tag := hashTag(rk); key != "" && tag != key && tag != sha(key) {
			t.Errorf("hash tag of %q = %q; want the key or its SHA-256", rk, tag)
		}
	})
}
