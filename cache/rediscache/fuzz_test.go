package rediscache

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary stored bytes, as another replica or anyone with
// access to Redis could write them, to the decoder with the default codec.
// It must never panic, and whatever decodes must survive a round trip.
func FuzzDecode(f *testing.F) {
	type user struct {
		Name  string
		Age   int
		Tags  []string
		Extra map[string]any
	}
	for _, s := range []string{"", "t", "v", `v{"Name":"ada","Age":36}`, `v{"Tags":["a"],"Extra":{"x":[1,{"y":null}]}}`, "v[[[[[[[[", "x{}", "v\xff"} {
		f.Add([]byte(s))
	}
	codec := JSON[user]{}
	f.Fuzz(func(t *testing.T, stored []byte) {
		v, ok, err := decode[user](codec, stored)
		if ok && err != nil {
			t.Fatalf("decode(%q) = ok with error %v", stored, err)
		}
		if len(stored) > 0 && stored[0] == formatTombstone && (ok || err != nil) {
			t.Fatalf("decode(%q) = %v, %v; want a tombstone", stored, ok, err)
		}
		if !ok {
			return
		}
		again, err := encode[user](codec, v)
		if err != nil {
			t.Fatalf("encode(decode(%q)) failed: %v", stored, err)
		}
		if again[0] != formatValue {
			t.Fatalf("encode(%+v) starts with %q; want %q", v, again[0], formatValue)
		}
		if _, ok, err := decode[user](codec, again); !ok || err != nil {
			t.Fatalf("decode(encode(%+v)) = %v, %v; want ok", v, ok, err)
		}
	})
}

// panicky is a codec whose Unmarshal panics on input starting with "!".
type panicky struct{ JSON[string] }

func (panicky) Unmarshal(data []byte) (string, error) {
	if bytes.HasPrefix(data, []byte("!")) {
		panic(strings.Repeat("boom", 1000))
	}
	return JSON[string]{}.Unmarshal(data)
}

func TestDecodeCodecPanic(t *testing.T) {
	_, ok, err := decode[string](panicky{}, []byte("v!"))
	if ok || err == nil || !strings.HasPrefix(err.Error(), "rediscache: codec panicked decoding a stored value: boomboom") || len(err.Error()) > 1200 {
		t.Errorf("decode with a panicking codec = %v, %v; want a bounded error", ok, err)
	}
}

// FuzzParseInvalidation feeds arbitrary messages to the invalidation
// parser: anyone with access to Redis can publish on the channel.
func FuzzParseInvalidation(f *testing.F) {
	const self = "0123456789abcdef"
	for _, s := range []string{"", ":", "k", self + ":k", "fedcba9876543210:k", "fedcba9876543210:", "fedcba987654321g:k", "fedcba9876543210:a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		key, ok := parseInvalidation(payload, self)
		if !ok {
			if key != "" {
				t.Fatalf("parseInvalidation(%q) = %q, false; want no key", payload, key)
			}
			return
		}
		if strings.HasPrefix(payload, self) {
			t.Fatalf("parseInvalidation(%q) accepted this replica's own message", payload)
		}
		if payload[16] != ':' || payload[17:] != key {
			t.Fatalf("parseInvalidation(%q) = %q; want the text after the origin", payload, key)
		}
	})
}
