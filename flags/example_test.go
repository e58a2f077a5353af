package flags_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/chassis-go/chassis/flags"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
)

// Register the provider with the OpenFeature SDK and evaluate through its
// client. A service uses the SDK's global API (openfeature.SetProviderAndWait
// and openfeature.NewDefaultClient); the example uses an isolated one.
func ExampleNewProvider() {
	ctx := context.Background()
	p := flags.NewProvider(flags.FileSource("testdata/flags.json"),
		flags.WithLogger(slog.New(slog.DiscardHandler)))

	api := isolated.NewAPI()
	defer api.Shutdown(ctx)
	if err := api.SetProviderAndWait(ctx, p); err != nil {
		fmt.Println("invalid flag file:", err)
		return
	}
	client := api.NewClient()

	for _, u := range []struct{ id, country string }{{"user-4", "DE"}, {"user-8", "FR"}, {"user-8", "DE"}, {"user-0", "FR"}} {
		ec := openfeature.NewEvaluationContext(u.id, map[string]any{"country": u.country})
		d, _ := client.BooleanValueDetails(ctx, "new-checkout", false, ec)
		fmt.Println(u.id, u.country, d.Value, d.Reason, d.Variant)
	}
	fmt.Println(client.Int(ctx, "max-items", 10, openfeature.NewEvaluationContext("user-1", map[string]any{"plan": "pro"})))
	// Output:
	// user-4 DE true SPLIT on
	// user-8 FR true SPLIT on
	// user-8 DE false SPLIT off
	// user-0 FR false SPLIT off
	// 200
}

// A file that fails to load is rejected whole: the last good flags stay in
// use and the error shows in Status until a good file replaces it.
func ExampleProvider_Status() {
	path := filepath.Join(os.TempDir(), "chassis-flags-example.json")
	defer os.Remove(path)
	_ = os.WriteFile(path, []byte(`{"flags": {"theme": {"variants": {"dark": "dark"}, "default": "dark"}}}`), 0o600)
	p := flags.NewProvider(flags.FileSource(path), flags.WithLogger(slog.New(slog.DiscardHandler)))

	_ = os.WriteFile(path, []byte(`{"flags": {"theme": {"variants": {"dark": "dark"}, "default": "light"}}}`), 0o600)
	err := p.Reload() // Run does this when the file changes
	fmt.Println(err != nil)

	st := p.Status()
	fmt.Println(st.Flags, st.LastError != "")
	fmt.Println(p.StringEvaluation(context.Background(), "theme", "", nil).Value)
	// Output:
	// true
	// 1 true
	// dark
}

// Flags from environment variables: FLAG_NEW_CHECKOUT is "new-checkout".
func ExampleEnvSource() {
	os.Setenv("EXAMPLE_FLAG_NEW_CHECKOUT", "true")
	os.Setenv("EXAMPLE_FLAG_MAX_ITEMS", "50")
	defer os.Unsetenv("EXAMPLE_FLAG_NEW_CHECKOUT")
	defer os.Unsetenv("EXAMPLE_FLAG_MAX_ITEMS")

	p := flags.NewProvider(flags.EnvSource("EXAMPLE_FLAG_"), flags.WithLogger(slog.New(slog.DiscardHandler)))
	ctx := context.Background()
	fmt.Println(p.BooleanEvaluation(ctx, "new-checkout", false, nil).Value)
	d := p.IntEvaluation(ctx, "max-items", 10, nil)
	fmt.Println(d.Value, d.Reason)
	// Output:
	// true
	// 50 STATIC
}

// Bucket reproduces a rollout assignment: "new-checkout" with salt "2026-12"
// gives French users in buckets 0-19 of 100 the "on" variant.
func ExampleBucket() {
	fmt.Println(flags.Bucket("new-checkout", "2026-12", "user-8", 100))
	fmt.Println(flags.Bucket("new-checkout", "2026-12", "user-1", 100))
	// Output:
	// 14
	// 83
}
