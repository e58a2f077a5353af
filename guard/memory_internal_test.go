package guard

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/chassis-go/chassis/internal/fakeclock"
)

func memTracked(m *MemoryLimiter, key string) bool {
	h := maphash.String(m.seed, key)
	s := &m.shards[h>>m.shift]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.find(key, h) >= 0
}

// memCheckIndex checks every shard's index against its entries.
func memCheckIndex(t *testing.T, m *MemoryLimiter) {
	t.Helper()
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		used := 0
		for _, slot := range s.slots {
			if slot != 0 {
				used++
			}
		}
		if used != len(s.entries) || len(s.entries) > s.limit || 2*used > len(s.slots) {
			t.Errorf("shard %d: %d slots used of %d, %d entries, limit %d", i, used, len(s.slots), len(s.entries), s.limit)
		}
		for j, e := range s.entries {
			h := maphash.String(m.seed, e.key())
			if h>>m.shift != uint64(i) {
				t.Errorf("entry %q in shard %d; want shard %d", e.key(), i, h>>m.shift)
			}
			if e.hash != uint32(h) {
				t.Errorf("entry %q holds hash %#x; want %#x", e.key(), e.hash, uint32(h))
			}
			if got := s.find(e.key(), h); got != j {
				t.Errorf("shard %d: find(%q) = %d; want %d", i, e.key(), got, j)
			}
		}
		s.mu.Unlock()
	}
}

func TestShardLayout(t *testing.T) {
	t.Parallel()
	tests := []struct{ maxKeys, shards int }{
		{1, 1}, {8, 1}, {127, 1}, {128, 2}, {1000, 8}, {4096, 64}, {100_000, 64},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.maxKeys), func(t *testing.T) {
			t.Parallel()
			m := NewMemoryLimiter(PerSecond(1), MaxKeys(tc.maxKeys))
			if len(m.shards) != tc.shards {
				t.Errorf("NewMemoryLimiter(MaxKeys(%d)) has %d shards; want %d", tc.maxKeys, len(m.shards), tc.shards)
			}
			total := 0
			for i := range m.shards {
				total += m.shards[i].limit
				if m.shards[i].limit < 1 {
					t.Errorf("shard %d limit = %d; want >= 1", i, m.shards[i].limit)
				}
			}
			if total != tc.maxKeys {
				t.Errorf("shard limits sum to %d; want %d", total, tc.maxKeys)
			}
		})
	}
}

// TestEvictsSmallestTAT fills a one-shard table (8 keys, scanned exactly) with
// active keys of different TATs and checks which one a newcomer replaces.
func TestEvictsSmallestTAT(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	// T = 10s, L = 30s.
	m := NewMemoryLimiter(Limit{Rate: 1, Per: 10 * time.Second, Burst: 3}, MaxKeys(8), WithClock(clk.Now))
	for i := range 8 {
		if d, _ := m.Allow(ctx, fmt.Sprint("k", i)); !d.Allowed {
			t.Fatalf("k%d denied while filling", i)
		}
		clk.Advance(time.Second) // k_i has TAT = i+10s
	}
	// Now = 8s. Every key is active (TAT >= 10s), the overflow is unused.
	// n1 is more limited than none of them: it is charged to the overflow
	// (overflow TAT = 18s) and not memTracked.
	if d, _ := m.Allow(ctx, "n1"); !d.Allowed {
		t.Fatal("n1 denied; want allowed through the overflow allowance")
	}
	if memTracked(m, "n1") {
		t.Error("n1 is memTracked; want it charged to the overflow allowance")
	}
	// n2 starts from the overflow state (18s): k0 (10s) and k1 (11s) are now
	// no more limited than an untracked key; the smallest, k0, goes.
	if d, _ := m.Allow(ctx, "n2"); !d.Allowed || d.Remaining != 1 || d.ResetAfter != 20*time.Second {
		t.Fatalf("n2 = %+v; want allowed, 1 remaining, reset after 20s (from the overflow state, 18s, at 8s)", d)
	}
	if memTracked(m, "k0") || !memTracked(m, "n2") {
		t.Errorf("after n2: k0 memTracked %v, n2 memTracked %v; want k0 evicted for n2", memTracked(m, "k0"), memTracked(m, "n2"))
	}
	for i := 1; i < 8; i++ {
		if !memTracked(m, fmt.Sprint("k", i)) {
			t.Errorf("k%d evicted; only the smallest TAT should go", i)
		}
	}
	memCheckIndex(t, m)
}

// TestReplenishedKeysAreEvicted checks that a full table of replenished keys
// makes room for newcomers with fresh buckets of their own.
func TestReplenishedKeysAreEvicted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	// T = 1ms, L = 2ms: a key replenishes 1ms after its last admission.
	m := NewMemoryLimiter(Limit{Rate: 2, Per: 2 * time.Millisecond}, MaxKeys(500), WithClock(clk.Now))
	for i := range 500 {
		m.Allow(ctx, fmt.Sprint("old", i))
	}
	for i := range 2000 {
		clk.Advance(2 * time.Millisecond)
		k := fmt.Sprint("new", i)
		d, _ := m.Allow(ctx, k)
		if !d.Allowed || d.Remaining != 1 {
			t.Fatalf("Allow(%s) = %+v; want a fresh bucket (allowed, 1 remaining)", k, d)
		}
	}
	if n := m.Len(); n != 500 {
		t.Errorf("Len() = %d; want 500", n)
	}
	// Filling the table at time 0 may have charged the overflow allowance
	// (shards fill unevenly); after that, replenished keys always made room.
	if ov := m.overflow.Load(); ov > int64(time.Millisecond) {
		t.Errorf("overflow TAT = %v; want the allowance unused after time 0", time.Duration(ov))
	}
	memCheckIndex(t, m)
}

// TestShardIndexChurn inserts, replaces and looks up keys at random in one
// shard and checks the index against a map after every step: backward-shift
// deletion must keep every key reachable.
func TestShardIndexChurn(t *testing.T) {
	t.Parallel()
	seed := maphash.MakeSeed()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, limit := range []int{1, 3, 8, 100, 1000} {
		s := &shard{limit: limit, slots: make([]uint64, minSlots)}
		want := map[string]int{}
		for step := range 20 * limit {
			key := fmt.Sprint("k", rng.IntN(4*limit))
			h := maphash.String(seed, key)
			if s.find(key, h) >= 0 {
				continue
			}
			if len(s.entries) < limit {
				s.insert(key, h, int64(step))
				want[key] = len(s.entries) - 1
			} else {
				v := rng.IntN(len(s.entries))
				old := s.entries[v].key()
				s.replace(v, key, h, int64(step))
				delete(want, old)
				want[key] = v
			}
			if step%7 == 0 || limit < 10 {
				for k, i := range want {
					if got := s.find(k, maphash.String(seed, k)); got != i {
						t.Fatalf("limit %d, step %d: find(%q) = %d; want %d", limit, step, k, got, i)
					}
				}
			}
		}
		used := 0
		for _, slot := range s.slots {
			if slot != 0 {
				used++
			}
		}
		if used != len(want) || len(s.entries) != len(want) {
			t.Errorf("limit %d: %d slots used, %d entries; want %d", limit, used, len(s.entries), len(want))
		}
	}
}

// TestKeyTooLongIsUntracked: a key longer than an entry can hold is never
// stored and is governed by the overflow allowance, like any key the table
// has no room for, so it is never admitted more often than its Limit allows.
func TestKeyTooLongIsUntracked(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Unix(1000, 0))
	m := NewMemoryLimiter(Limit{Rate: 1, Per: time.Hour}, WithClock(clock.Now))
	m.maxKeyLen = 4
	ctx := context.Background()
	if d, _ := m.Allow(ctx, "longer"); !d.Allowed {
		t.Fatalf("first event of a long key denied: %+v", d)
	}
	if n := m.Len(); n != 0 {
		t.Errorf("Len() = %d after a long key; want 0 (not tracked)", n)
	}
	if d, _ := m.Allow(ctx, "longer"); d.Allowed {
		t.Errorf("second event of a long key within the hour admitted: %+v", d)
	}
	if d, _ := m.Allow(ctx, "other-long"); d.Allowed {
		t.Errorf("another long key admitted while the overflow allowance is spent: %+v", d)
	}
	clock.Advance(time.Hour)
	if d, _ := m.Allow(ctx, "abc"); !d.Allowed || m.Len() != 1 {
		t.Errorf("short key after replenishment: %+v, Len %d; want admitted and tracked", d, m.Len())
	}
}
