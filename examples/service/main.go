// Command service is the chassis reference service: a small notes API that
// wires every chassis package together the way a production service would.
// Run it with
//
//	go run ./examples/service
//
// and try
//
//	curl -s -X POST localhost:8080/v1/notes -H 'Content-Type: application/json' -d '{"title":"hello","body":"a first note"}'
//	curl -s localhost:8080/v1/notes
//	curl -s localhost:8080/v1/digest
//	curl -s localhost:8080/readyz
//	curl -s localhost:8080/metrics
//
// Every setting is an environment variable with a working default; see
// Config and the README. SIGINT or SIGTERM drains and stops it.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chassis-go/chassis"
	"github.com/chassis-go/chassis/config"
	"github.com/chassis-go/chassis/logz"
	"github.com/chassis-go/chassis/telemetry"
)

func main() {
	if err := run(context.Background(), os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}

// run loads the configuration, starts telemetry and the service, and blocks
// until a signal, ctx or a failing server stops it.
func run(ctx context.Context, stderr io.Writer) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	level.Set(cfg.LogLevel)
	logger := logz.New(stderr, &logz.Options{
		HandlerOptions: slog.HandlerOptions{Level: level},
		Text:           cfg.LogFormat == "text",
	})
	// go-redis logs its own failures (dial errors, pool trouble) as plain
	// text on stderr; send them through the service's JSON log instead.
	redis.SetLogger(logz.NewPrintf(logger, slog.LevelWarn, "go-redis"))
	logger.Info("starting", "version", chassis.Version, "config", config.Redacted(cfg))

	tel, err := telemetry.Init(ctx, telemetry.Config{ServiceName: "notes", ServiceVersion: chassis.Version, Logger: logger})
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(ctx); err != nil {
			logger.Error("telemetry shutdown", "err", err)
		}
	}()

	svc, err := newService(cfg, logger, level, tel)
	if err != nil {
		return err
	}
	defer svc.close()
	err = svc.run(ctx)
	if err != nil {
		logger.Error("stopped", "err", err)
		return err
	}
	logger.Info("stopped cleanly")
	return nil
}
