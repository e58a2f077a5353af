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
