// Command minimal is the smallest useful chassis service, the one the README
// shows: configuration from the environment, a JSON logger, rate limiting,
// timeouts, access logs, probes and a graceful drain on SIGTERM.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/chassis-go/chassis/config"
	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/httpkit"
	"github.com/chassis-go/chassis/lifecycle"
	"github.com/chassis-go/chassis/logz"
)

type Config struct {
	Addr     string     `env:"ADDR" envDefault:"127.0.0.1:8081"`
	LogLevel slog.Level `env:"LOG_LEVEL" envDefault:"info"`
	PerMin   int        `env:"RATE_PER_MINUTE" envDefault:"600" validate:"min=1"`
}

func main() {
	cfg := config.MustLoad[Config]()
	logger := logz.New(os.Stderr, &logz.Options{HandlerOptions: slog.HandlerOptions{Level: cfg.LogLevel}})

	checker := health.New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		_ = httpkit.WriteJSON(w, r, http.StatusOK, map[string]string{"hello": r.PathValue("name")})
	})

	api := httpkit.Chain(
		httpkit.RequestID,
		httpkit.Logging(logger),
		guard.RateLimit(guard.RateLimitConfig{
			Limiter: guard.NewMemoryLimiter(guard.PerMinute(cfg.PerMin)),
			Key:     guard.RemoteIP(),
		}),
		guard.Timeout(5*time.Second),
		httpkit.Recovery(logger), // innermost: panics become 500s, routes reach the log
	)
	root := http.NewServeMux()
	root.Handle("GET /livez", checker.LiveHandler())
	root.Handle("GET /readyz", checker.ReadyHandler())
	root.Handle("/", api(httpkit.MuxErrors(mux))) // 404 and 405 as problem+json, through the stack

	srv := httpkit.NewServer(cfg.Addr, root)
	logger.Info("listening", "addr", cfg.Addr)
	err := lifecycle.Run(context.Background(),
		lifecycle.HTTP(srv, lifecycle.BeforeShutdown(checker.SetDraining), lifecycle.DrainDelay(time.Second)))
	if err != nil {
		logger.Error("stopped", "err", err)
		os.Exit(1)
	}
}
