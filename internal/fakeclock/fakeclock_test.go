package fakeclock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/chassis-go/chassis/internal/fakeclock"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClock(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := fakeclock.New(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now() = %v; want %v", got, start)
	}
	c.Advance(time.Second)
	if got := c.Now(); !got.Equal(start.Add(time.Second)) {
		t.Errorf("after Advance(1s) Now() = %v; want %v", got, start.Add(time.Second))
	}
	c.Advance(-2 * time.Second)
	if got := c.Now(); !got.Equal(start.Add(-time.Second)) {
		t.Errorf("after Advance(-2s) Now() = %v; want %v", got, start.Add(-time.Second))
	}
	c.Set(start)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { c.Advance(time.Millisecond); _ = c.Now() })
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(8*time.Millisecond); !got.Equal(want) {
		t.Errorf("after 8 concurrent Advance(1ms) Now() = %v; want %v", got, want)
	}
}
