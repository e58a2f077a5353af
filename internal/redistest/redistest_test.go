package redistest_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestForEach(t *testing.T) {
	var names []string
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		names = append(names, b.Name)
		ctx := context.Background()
		key := b.Prefix + "k"
		if err := b.Client.Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatalf("%s: SET = %v", b.Name, err)
		}
		if got, err := b.Client.Get(ctx, key).Result(); err != nil || got != "v" {
			t.Fatalf("%s: GET = %q, %v; want v", b.Name, got, err)
		}
		if (b.Mini != nil) != (b.Name == "miniredis") {
			t.Errorf("%s: Mini set = %v", b.Name, b.Mini != nil)
		}
	})
	if len(names) == 0 || names[0] != "miniredis" {
		t.Errorf("backends run = %v; want miniredis first", names)
	}
}
