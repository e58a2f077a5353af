package cache

import "testing"

// FuzzOperations runs a byte string as a sequence of Set, Get, Delete and
// Clear calls on a small cache and checks, after every step, that Get
// returns only the value last Set for a key (or misses: eviction may drop
// anything), that a key just Set is found, and the shards' invariants.
func FuzzOperations(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0x10, 0x20, 0x30, 0x40, 0x11, 0x21, 0x31, 0x41, 0xf0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		c := New(Config[byte, int]{MaxEntries: 5})
		last := map[byte]int{}
		for i, op := range ops {
			k := op & 0x0f
			switch op >> 6 {
			case 0, 1:
				c.Set(k, i)
				last[k] = i
				if v, ok := c.Get(k); !ok || v != i {
					t.Fatalf("step %d: Get(%d) right after Set(%d, %d) = %d, %v", i, k, k, i, v, ok)
				}
			case 2:
				if v, ok := c.Get(k); ok {
					if want, set := last[k]; !set || v != want {
						t.Fatalf("step %d: Get(%d) = %d; want %d (set %v)", i, k, v, want, set)
					}
				}
			case 3:
				if op&0x30 == 0x30 {
					c.Clear()
					clear(last)
				} else {
					c.Delete(k)
					delete(last, k)
				}
			}
			if n := c.Len(); n > 5 {
				t.Fatalf("step %d: Len() = %d; want <= 5", i, n)
			}
		}
		for j := range c.shards {
			c.shards[j].check(t)
		}
	})
}
