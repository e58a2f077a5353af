package config_test

import (
	"log/slog"
	"os"

	"github.com/chassis-go/chassis/config"
)

func ExampleRedacted() {
	type Config struct {
		Port     int    `env:"PORT" envDefault:"8080"`
		Password string `env:"PASSWORD" secret:"true"`
		DB       struct {
			Host string `env:"HOST" envDefault:"localhost"`
		} `envPrefix:"DB_"`
	}
	opts := []config.Option{config.WithPrefix("APP_"), config.WithEnvironment(map[string]string{"APP_PASSWORD": "hunter2"})}
	cfg := config.MustLoad[Config](opts...)

	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{} // deterministic output
			}
			return a
		},
	}))
	logger.Info("starting", "config", config.Redacted(cfg, config.WithPrefix("APP_")))
	// Output:
	// {"level":"INFO","msg":"starting","config":{"APP_PORT":8080,"APP_PASSWORD":"[REDACTED]","APP_DB_HOST":"localhost"}}
}
