package redislimit

import (
	"fmt"
	"testing"
)

// TestDenyCacheBounded checks the size bound and what a full cache forgets.
func TestDenyCacheBounded(t *testing.T) {
	t.Run("live entries", func(t *testing.T) {
		c := newDenyCache(100)
		for i := range 300 {
			c.put(fmt.Sprint("k", i), 0, 1000, 2000)
			if n := len(c.entries); n > 100 {
				t.Fatalf("after %d puts len = %d; want <= 100", i+1, n)
			}
		}
		if _, _, ok := c.get("k299", 0); !ok {
			t.Errorf("get(k299) = not found; want the newest entry kept")
		}
	})
	t.Run("expired entries go first", func(t *testing.T) {
		c := newDenyCache(100)
		for i := range 100 {
			c.put(fmt.Sprint("k", i), 0, 1000, 2000)
		}
		c.put("late", 1000, 10, 10) // every sampled entry has expired
		if n := len(c.entries); n != 100-denySamples+1 {
			t.Errorf("len after a put among expired entries = %d; want %d", n, 100-denySamples+1)
		}
	})
	t.Run("soonest expiry goes", func(t *testing.T) {
		c := newDenyCache(denySamples) // small enough that every entry is sampled
		for i := range denySamples {
			c.put(fmt.Sprint("k", i), 0, int64(20-i), 100)
		}
		c.put("new", 0, 50, 100)
		if _, _, ok := c.get(fmt.Sprint("k", denySamples-1), 0); ok {
			t.Errorf("entry expiring first is still cached; want it evicted")
		}
		if n := len(c.entries); n != denySamples {
			t.Errorf("len = %d; want %d", n, denySamples)
		}
	})
}

func TestDenyCacheGet(t *testing.T) {
	tests := []struct {
		now          int64
		retry, reset int64
		ok           bool
	}{
		{99, 0, 0, false}, // before the denial: the clock stepped back; ask Redis
		{100, 50, 80, true},
		{149, 1, 31, true},
		{150, 0, 0, false}, // RetryAfter has passed: ask Redis
		{151, 0, 0, false},
	}
	for _, tc := range tests {
		c := newDenyCache(10)
		c.put("k", 100, 50, 80) // denied at 100 with RetryAfter 50, ResetAfter 80
		retry, reset, ok := c.get("k", tc.now)
		if retry != tc.retry || reset != tc.reset || ok != tc.ok {
			t.Errorf("get(k, %d) = %d, %d, %v; want %d, %d, %v", tc.now, retry, reset, ok, tc.retry, tc.reset, tc.ok)
		}
	}
}
