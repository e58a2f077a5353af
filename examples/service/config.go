package main

import (
	"errors"
	"fmt"
	"net"

	"log/slog"
	"net/netip"
	"time"

	"github.com/chassis-go/chassis/config"
	"github.com/chassis-go/chassis/guard"
)

// Config is everything the service reads from its environment. Every field
// has a default that works on a laptop, so `go run ./examples/service` needs
// no variables at all; the README lists them.
type Config struct {
	// HTTPAddr is where the JSON API, probes and /metrics listen.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	// GRPCAddr is where the gRPC health service listens.
	GRPCAddr string `env:"GRPC_ADDR" envDefault:"127.0.0.1:9090"`
	// AdminAddr is the operator's listener: the status page, /metrics,
	// pprof, the log level and detailed health. Keep it on loopback (the
	// default) or behind ADMIN_TOKEN: it is never the public port.
	AdminAddr string `env:"ADMIN_ADDR" envDefault:"127.0.0.1:9091"`
	// AdminToken, when set (16 bytes or more), is required on every admin
	// route: "Authorization: Bearer <token>", or as the Basic password in a
	// browser. It is required when ADMIN_ADDR is not a loopback address.
	AdminToken string `env:"ADMIN_TOKEN" secret:"true"`
	// LogLevel is the starting log level; PUT /debug/loglevel changes it
	// while running when DebugEndpoints is on.
	LogLevel slog.Level `env:"LOG_LEVEL" envDefault:"info"`
	// LogFormat is "json" (one object per line, for collectors) or "text"
	// (key=value, for people at a terminal).
	LogFormat string `env:"LOG_FORMAT" envDefault:"json" validate:"oneof=json|text"`

	// RateLimit is the number of API requests one client may make per
	// RateLimitPer, in bursts of up to RateLimitBurst (0 means RateLimit).
	RateLimit      int           `env:"RATE_LIMIT" envDefault:"100" validate:"min=1"`
	RateLimitPer   time.Duration `env:"RATE_LIMIT_PER" envDefault:"1m" validate:"min=1ms"`
	RateLimitBurst int           `env:"RATE_LIMIT_BURST" envDefault:"0" validate:"min=0"`
	// TrustedProxies are the proxies whose X-Forwarded-For is believed when
	// identifying the client. Empty means the peer address is the client.
	TrustedProxies []netip.Prefix `env:"TRUSTED_PROXIES" envSeparator:","`
	// RedisAddr, when set, moves the rate limit to Redis so that every
	// replica shares it.
	RedisAddr     string `env:"REDIS_ADDR"`
	RedisPassword string `env:"REDIS_PASSWORD" secret:"true"`

	// DatabaseURL, when set (or when the standard PG* variables are), keeps
	// the notes in PostgreSQL, e.g. postgres://user@host:5432/db; empty
	// means the in-memory store.
	DatabaseURL string `env:"DATABASE_URL" secret:"true"`

	// NoteRetention is how old a note gets before the purge job deletes
	// it; PurgeInterval is how often the job runs (on one replica at a time
	// when Redis is configured).
	NoteRetention time.Duration `env:"NOTE_RETENTION" envDefault:"720h" validate:"min=1s"`
	PurgeInterval time.Duration `env:"PURGE_INTERVAL" envDefault:"1h" validate:"min=1s"`

	// WebhookSecrets, when set, turn on POST /v1/webhooks/notes, which
	// accepts notes as Standard Webhooks signed with any of these
	// "whsec_..." secrets (several during a rotation).
	WebhookSecrets []string `env:"WEBHOOK_SECRETS" envSeparator:"," secret:"true"`

	// FlagsFile, when set, is a JSON or YAML file of feature flags (see
	// package flags), re-read when it changes. Without it every flag has its
	// default.
	FlagsFile string `env:"FLAGS_FILE"`

	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64 `env:"MAX_BODY_BYTES" envDefault:"65536" validate:"min=1"`
	// RequestTimeout bounds each API request.
	RequestTimeout time.Duration `env:"REQUEST_TIMEOUT" envDefault:"5s" validate:"min=1ms"`
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string `env:"CORS_ORIGINS" envDefault:"http://localhost:3000" envSeparator:","`

	// DownstreamURL is the text-analysis service that /v1/digest calls for
	// every note. Empty means this process's own /internal/analyze handler,
	// so the service works alone.
	DownstreamURL string `env:"DOWNSTREAM_URL" validate:"omitempty,pattern=^https?://"`
	// DownstreamTimeout bounds each attempt of a downstream call.
	DownstreamTimeout time.Duration `env:"DOWNSTREAM_TIMEOUT" envDefault:"2s" validate:"min=1ms"`
	// DownstreamToken is sent to the downstream as a bearer token.
	DownstreamToken string `env:"DOWNSTREAM_TOKEN" envDefault:"local-dev-token" secret:"true"`
	// DownstreamAdaptiveLimit puts an adaptive concurrency limit on the
	// downstream client (call.WithOverload): when the downstream slows down
	// or sheds, calls beyond what it sustains fail fast locally instead of
	// piling up. Off, only the breaker and the retry budget protect it.
	DownstreamAdaptiveLimit bool `env:"DOWNSTREAM_ADAPTIVE_LIMIT" envDefault:"true"`
	// FanOut is how many downstream calls /v1/digest makes at once.
	FanOut int `env:"FAN_OUT" envDefault:"4" validate:"min=1,max=64"`

	// DrainDelay is how long readiness reports 503 before the servers stop
	// accepting connections, so that load balancers stop routing here.
	DrainDelay time.Duration `env:"DRAIN_DELAY" envDefault:"1s" validate:"min=0s"`
	// ShutdownTimeout bounds how long in-flight requests may take to finish.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s" validate:"min=1ms"`

	// DebugEndpoints turns on /debug/sleep and /debug/loglevel, which
	// tests and load tests use. Keep it off in production.
	DebugEndpoints bool `env:"DEBUG_ENDPOINTS" envDefault:"false"`
	// WorkSlots is the capacity of GET /debug/work (with DebugEndpoints):
	// how many of its requests hold a slot at once.
	WorkSlots int `env:"WORK_SLOTS" envDefault:"16" validate:"min=1,max=10000"`
}

// loadConfig loads Config and checks what the validate tags cannot: a
// TRUSTED_PROXIES set that would let any client choose its rate-limit key is
// reported with the other configuration errors, not as a panic later.
func loadConfig() (Config, error) {
	cfg, err := config.Load[Config]()
	if perr := guard.CheckTrustedProxies(cfg.TrustedProxies...); perr != nil {
		err = errors.Join(err, fmt.Errorf("TRUSTED_PROXIES: %w", perr))
	}
	if cfg.AdminToken == "" && !isLoopback(cfg.AdminAddr) {
		err = errors.Join(err, fmt.Errorf("ADMIN_ADDR: %s is not a loopback address: set ADMIN_TOKEN (and serve it over TLS)", cfg.AdminAddr))
	}
	return cfg, err
}

// isLoopback reports whether addr ("host:port") names a loopback host.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
