package cache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chassis-go/chassis/cache"
)

func ExampleNew() {
	c := cache.New(cache.Config[string, int]{MaxEntries: 1000, TTL: time.Minute})
	c.Set("answer", 42)
	v, ok := c.Get("answer")
	fmt.Println(v, ok)
	_, ok = c.Get("question")
	fmt.Println(ok)
	// Output:
	// 42 true
	// false
}

func ExampleCache_GetOrLoad() {
	users := cache.New(cache.Config[int, string]{
		Name:        "users",
		TTL:         5 * time.Minute,
		NegativeTTL: 30 * time.Second,
	})
	defer users.Close()

	queries := 0
	load := func(ctx context.Context, id int) (string, error) {
		queries++ // one load per key at a time: no lock needed here
		if id != 1 {
			return "", fmt.Errorf("user %d: %w", id, cache.ErrNotFound)
		}
		return "ada", nil
	}
	ctx := context.Background()
	for range 3 {
		name, _ := users.GetOrLoad(ctx, 1, load)
		_, err := users.GetOrLoad(ctx, 2, load)
		fmt.Println(name, errors.Is(err, cache.ErrNotFound))
	}
	fmt.Println("queries:", queries)
	// Output:
	// ada true
	// ada true
	// ada true
	// queries: 2
}

func ExampleCache_GetOrLoad_staleWhileRevalidate() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rates := cache.New(cache.Config[string, int]{
		TTL:                  time.Minute,
		Jitter:               -1, // exact expiry, for the example's sake
		StaleWhileRevalidate: time.Minute,
		Clock:                func() time.Time { return now }, // omit for time.Now
	})
	version := 0
	load := func(context.Context, string) (int, error) {
		version++
		return version, nil
	}
	ctx := context.Background()
	v, _ := rates.GetOrLoad(ctx, "EUR", load)
	fmt.Println("first call:", v)

	now = now.Add(90 * time.Second) // expired 30s ago, within the stale window
	v, _ = rates.GetOrLoad(ctx, "EUR", load)
	fmt.Println("stale, served at once:", v)

	rates.Close() // waits for the background refresh
	v, _ = rates.GetOrLoad(ctx, "EUR", load)
	fmt.Println("refreshed:", v)
	// Output:
	// first call: 1
	// stale, served at once: 1
	// refreshed: 2
}
