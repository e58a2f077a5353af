package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/chassis-go/chassis"
	"github.com/chassis-go/chassis/admin"
	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/config"
	"github.com/chassis-go/chassis/flags"
	"github.com/chassis-go/chassis/grpckit"
	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/guard/redislimit"
	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/httpkit"
	"github.com/chassis-go/chassis/idempotency"
	"github.com/chassis-go/chassis/idempotency/redisstore"
	"github.com/chassis-go/chassis/lifecycle"
	"github.com/chassis-go/chassis/logz"
	"github.com/chassis-go/chassis/overload"
	"github.com/chassis-go/chassis/problem"
	"github.com/chassis-go/chassis/telemetry"
	"github.com/chassis-go/chassis/tick"
	"github.com/chassis-go/chassis/tick/redislock"
	"github.com/chassis-go/chassis/webhook"
	"github.com/chassis-go/chassis/webhook/redisreplay"
)

// service is the assembled reference service: its servers and the state
// they share. newService builds it and opens its listeners; run serves;
// close releases what run did not.
type service struct {
	cfg      Config
	logger   *slog.Logger
	checker  *health.Checker
	client   *call.Client
	redis    *redis.Client // nil without REDIS_ADDR
	store    noteStore
	shed     *overload.Limiter // the API's adaptive concurrency limit
	purge    *tick.Job         // deletes notes older than NOTE_RETENTION
	flags    *flags.Provider   // FLAGS_FILE, or FLAG_* variables
	handler  http.Handler
	grpc     *grpc.Server
	grpcHlth *grpckit.Health

	// The listeners are opened by newService, so that everything that
	// depends on the service's own address (the default downstream) is
	// known when it is built.
	httpLis, grpcLis, adminLis net.Listener
	admin                      *admin.Admin
	adminHandler               http.Handler // the admin page and the internal routes
	analyzeURL                 string       // DOWNSTREAM_URL, or our own /internal/analyze
}

func newService(cfg Config, logger *slog.Logger, level *slog.LevelVar, tel *telemetry.Provider) (*service, error) {
	// newService has grown with the toolkit: it wires every package, in
	// the order they depend on each other.
	s := &service{cfg: cfg, logger: logger, checker: health.New(health.CacheTTL(time.Second))}
	if err := s.listen(); err != nil {
		return nil, err
	}
	built := false
	defer func() {
		if !built {
			s.close()
		}
	}()

	// Rate limiting: per process in memory, or shared by every replica in
	// Redis. With Redis down, each replica falls back to its own memory
	// limiter rather than failing open for everyone.
	limit := guard.Limit{Rate: cfg.RateLimit, Per: cfg.RateLimitPer, Burst: cfg.RateLimitBurst}
	if err := limit.Validate(); err != nil {
		return nil, err
	}
	var limiter guard.Limiter = guard.NewMemoryLimiter(limit)
	if cfg.RedisAddr != "" {
		s.redis = redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, Password: cfg.RedisPassword, ContextTimeoutEnabled: true})
		limiter = redislimit.New(s.redis, limit, redislimit.WithDegraded(redislimit.FailLocal))
		s.checker.Add("redis", func(ctx context.Context) error { return s.redis.Ping(ctx).Err() }, health.NonCritical())
	}
	// One IPv6 host usually owns a whole /64: count the subnet as one
	// client, or rotating addresses inside it would evade the limit.
	key := guard.IPv6Prefix(64, guard.RemoteIP())
	if len(cfg.TrustedProxies) > 0 {
		key = guard.IPv6Prefix(64, guard.ClientIP(cfg.TrustedProxies...))
	}

	// One adaptive concurrency limit for the API, HTTP and gRPC alike: under
	// more load than the process can serve, the excess is answered 503 (or
	// ResourceExhausted) at once, and what is admitted stays fast.
	// /debug/work (the overload test's stand-in for real work) is shed
	// first. Two routes are exempt, because their latency and their 503s
	// say nothing about this process's capacity: /debug/sleep takes as long
	// as the test asks, and /v1/digest waits on the downstream, which the
	// client's own breaker and adaptive limit protect (its 503s during a
	// downstream outage would otherwise make this limit shed notes).
	s.shed = overload.NewLimiter(overload.Config{Name: "api", MaxQueue: 64, MaxWait: 50 * time.Millisecond,
		MeterProvider: tel.MeterProvider()})
	apiPriority := func(r *http.Request) overload.Priority {
		if strings.HasPrefix(r.URL.Path, "/debug/work") {
			return overload.Sheddable
		}
		return overload.Default
	}

	// The downstream client: one deadline per attempt, the caller's context
	// around everything, retries only within the budget, a breaker per host.
	// A digest makes FanOut calls at once to one host: keep that many
	// connections idle rather than net/http's default of 2, which would
	// open and close a socket for most calls.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = max(cfg.FanOut, 2) * 4
	var adaptive call.Option // nil options are ignored
	if cfg.DownstreamAdaptiveLimit {
		// Per host: stop piling calls on a slow downstream. A digest needs
		// FanOut calls at once, so the limit never drops below that, and a
		// short queue absorbs bursts instead of failing whole digests.
		adaptive = call.WithOverload(call.OverloadPolicy{Limiter: overload.Config{
			MinLimit: cfg.FanOut, InitialLimit: max(2*cfg.FanOut, 20), MaxQueue: 256, MaxWait: 250 * time.Millisecond,
		}})
	}
	s.client = call.New(
		adaptive,
		call.WithTransport(transport),
		call.WithTimeout(cfg.DownstreamTimeout),
		call.WithRetry(call.RetryPolicy{MaxAttempts: 3, BaseDelay: 50 * time.Millisecond, MaxDelay: time.Second}),
		call.WithRetryBudget(call.RetryBudget{}),
		call.WithBreaker(call.BreakerPolicy{ConsecutiveFailures: 5, OpenTimeout: 5 * time.Second}),
		call.WithTokenSource(call.TokenFunc(func(context.Context) (call.Token, error) {
			return call.Token{Value: cfg.DownstreamToken}, nil
		})),
	)
	base, err := openStore(cfg, tel)
	if err != nil {
		return nil, err
	}
	var rdb redis.UniversalClient
	if s.redis != nil {
		rdb = s.redis
	}
	store := newCachedStore(base, rdb, tel.MeterProvider(), logger)
	s.store = store

	// Feature flags through OpenFeature: a file when FLAGS_FILE is set,
	// else FLAG_* variables. Evaluations never block; a bad file keeps the
	// last good flags.
	src := flags.EnvSource("FLAG_")
	if cfg.FlagsFile != "" {
		src = flags.FileSource(cfg.FlagsFile)
	}
	s.flags = flags.NewProvider(src, flags.WithLogger(logger))
	if err := openfeature.SetNamedProviderAndWait(flagDomain, s.flags); err != nil {
		logger.Warn("feature flags not loaded; every flag has its default until they are", "err", err)
	}

	// Purging old notes: a background job that never overlaps itself, on
	// one replica at a time when the replicas share a Redis.
	var lock tick.Option
	if s.redis != nil {
		lock = tick.WithLock(redislock.New(s.redis, redislock.WithPrefix("notes:tick:")))
	}
	s.purge = tick.Every("purge-notes", cfg.PurgeInterval, func(ctx context.Context) error {
		n, err := store.purge(ctx, time.Now().Add(-cfg.NoteRetention))
		if n > 0 {
			logger.InfoContext(ctx, "purged notes", "count", n)
		}
		return err
	}, lock, tick.Timeout(time.Minute), tick.Jitter(cfg.PurgeInterval/10), tick.WithLogger(logger))
	s.checker.Add("job:purge-notes", s.purge.Check(3), health.NonCritical())

	// POST /v1/notes is safe to retry: a request with an Idempotency-Key
	// runs once per client and key; a retry gets the stored response.
	var idemStore idempotency.Store = idempotency.NewMemoryStore()
	if s.redis != nil {
		idemStore = redisstore.New(s.redis)
	}
	idem := idempotency.Middleware(idempotency.Config{
		Store: idemStore, Key: key, LockTTL: cfg.RequestTimeout + 10*time.Second, Logger: logger,
	})
	notes := &notesAPI{store: store, idem: idem}
	digest := &digestAPI{store: store, client: s.client, fanOut: cfg.FanOut, analyzeURL: s.analyzeURL,
		flags: openfeature.NewClient(flagDomain)}

	// A full store is answered 507 on create and is not a readiness
	// failure: otherwise a client filling it would pull every replica out
	// of rotation. Readiness asks only whether the store can serve.
	s.checker.Add("notes-store", store.ping)
	s.checker.Add("downstream", s.downstreamCheck, health.NonCritical(), health.Timeout(time.Second))

	// The API: every request goes through the full middleware stack,
	// outermost first.
	api := http.NewServeMux()
	notes.register(api)
	digest.register(api)
	if len(cfg.WebhookSecrets) > 0 {
		// Notes may also arrive as signed webhooks: the signature, its age
		// and replays are checked before the handler runs.
		v, err := webhook.NewVerifier(cfg.WebhookSecrets...)
		if err != nil {
			return nil, fmt.Errorf("WEBHOOK_SECRETS: %w", err)
		}
		var replay webhook.MiddlewareOption
		if s.redis != nil {
			replay = webhook.WithReplayCache(redisreplay.New(s.redis))
		}
		api.Handle("POST /v1/webhooks/notes", v.Middleware(replay)(http.HandlerFunc(notes.create)))
	}
	if cfg.DebugEndpoints {
		registerDebug(api, level, cfg.WorkSlots)
	}
	cors := guard.CORS(guard.CORSConfig{
		AllowedOrigins: cfg.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodDelete},
		AllowedHeaders: []string{"Content-Type", "X-Request-ID"},
		ExposedHeaders: []string{"X-Request-ID", "RateLimit", "RateLimit-Policy", "Retry-After"},
		MaxAge:         10 * time.Minute,
	})
	stack := httpkit.Chain(
		httpkit.RequestID,       // first, so every log line and problem carries the id
		httpkit.Tracing(),       // the server span, named after the route
		httpkit.Logging(logger), // one access-log line, with the final status
		guard.SecurityHeaders(guard.DefaultSecurityHeaders()), // outside the guards, so their errors carry them too
		cors,
		guard.RateLimit(guard.RateLimitConfig{Limiter: limiter, Key: key, Logger: logger}),
		guard.Shed(guard.ShedConfig{Limiter: s.shed, Priority: apiPriority, // probes live on root, outside the stack
			Exempt: func(r *http.Request) bool {
				return strings.HasPrefix(r.URL.Path, "/debug/sleep") || strings.HasPrefix(r.URL.Path, "/v1/digest")
			}}),
		guard.MaxBody(cfg.MaxBodyBytes),
		guard.Timeout(cfg.RequestTimeout, guard.WithLogger(logger)),
		// Innermost: a panic becomes a 500 problem while Timeout still
		// waits, and the route the mux matched reaches the outer layers.
		httpkit.Recovery(logger),
	)
	// The downstream handler lives in this process only so that the service
	// works alone; it is not rate limited, since the digest's own calls
	// would otherwise count against the clients that caused them.
	internal := httpkit.Chain(httpkit.RequestID, httpkit.Tracing(), httpkit.Logging(logger),
		guard.MaxBody(cfg.MaxBodyBytes), guard.Timeout(cfg.RequestTimeout), httpkit.Recovery(logger))

	root := http.NewServeMux()
	root.Handle("GET /livez", s.checker.LiveHandler())
	root.Handle("GET /readyz", s.checker.ReadyHandler())
	root.Handle("/", stack(httpkit.MuxErrors(api))) // the mux's own 404/405 as problem+json
	s.handler = root

	// The operator's listener, never the public port: the status page with
	// every stateful part, /metrics, pprof, the log level and readiness
	// with error texts. The stand-in downstream lives here too, so that
	// internal routes stay off the public port.
	s.admin = admin.New(admin.Config{
		Title:    "notes " + chassis.Version,
		Checker:  s.checker,
		Metrics:  tel.MetricsHandler(),
		LevelVar: level,
		Config:   config.Redacted(cfg),
		Token:    cfg.AdminToken,
		Logger:   logger,
	})
	s.admin.Add("downstream client", admin.ReporterFunc(func() any { return s.client.Status() }))
	s.admin.Add("rate limiter", admin.ReporterFunc(func() any {
		if m, ok := limiter.(*guard.MemoryLimiter); ok {
			return map[string]any{"kind": "memory", "tracked_keys": m.Len(), "rate": limit.Rate, "per": limit.Per.String()}
		}
		return map[string]any{"kind": "redis", "rate": limit.Rate, "per": limit.Per.String()}
	}))
	s.admin.Add("feature flags", admin.ReporterFunc(func() any { return s.flags.Status() }))
	s.admin.Add("purge job", admin.ReporterFunc(func() any { return s.purge.Status() }))
	s.admin.Add("notes cache", admin.ReporterFunc(store.stats))
	s.admin.Add("overload (api)", admin.ReporterFunc(func() any { return s.shed.Status() }))
	adminMux := http.NewServeMux()
	adminMux.Handle("POST /internal/analyze", internal(analyzeHandler(cfg.DownstreamToken)))
	adminMux.Handle("/", s.admin)
	s.adminHandler = adminMux

	// The gRPC port gets the same transport limits as HTTP (grpckit's
	// defaults) and the same per-client limit, charged at stream creation.
	// grpckit exempts health methods by default; this port is reachable by
	// clients, so here they are charged too: an orchestrator probing every
	// few seconds stays far below RATE_LIMIT, a flood does not. Health calls
	// stay out of the access log.
	s.grpc = grpc.NewServer(grpckit.ServerOptions(logger,
		grpckit.WithRateLimit(grpckit.RateLimitConfig{
			Limiter: limiter,
			Key:     grpckit.KeyFromPeer(),
			Exempt:  func(string) bool { return false },
		}),
		grpckit.QuietMethods(healthpb.Health_Check_FullMethodName, healthpb.Health_Watch_FullMethodName),
		grpckit.WithShed(grpckit.ShedConfig{Limiter: s.shed, Priority: grpckit.PriorityFromMetadata("x-priority")}),
	)...)
	s.grpcHlth = grpckit.RegisterHealth(s.grpc, s.checker)
	built = true
	return s, nil
}

// flagDomain is the OpenFeature domain of this service's flags.
const flagDomain = "notes"

// openStore returns the PostgreSQL store when DATABASE_URL or PGHOST is set,
// else the in-memory one.
func openStore(cfg Config, tel *telemetry.Provider) (noteStore, error) {
	if cfg.DatabaseURL == "" && os.Getenv("PGHOST") == "" {
		return newMemStore(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return newPGStore(ctx, cfg.DatabaseURL, tel.MeterProvider())
}

// listen opens the HTTP and gRPC listeners and resolves the downstream URL,
// which defaults to this process's own HTTP listener.
func (s *service) listen() error {
	var err error
	if s.httpLis, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	if s.grpcLis, err = net.Listen("tcp", s.cfg.GRPCAddr); err != nil {
		return fmt.Errorf("grpc listener: %w", err)
	}
	if s.adminLis, err = net.Listen("tcp", s.cfg.AdminAddr); err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	s.analyzeURL = s.cfg.DownstreamURL
	if s.analyzeURL == "" {
		s.analyzeURL = "http://" + s.adminLis.Addr().String() + "/internal/analyze"
	}
	return nil
}

// run listens on the configured addresses and serves until ctx is done or a
// signal arrives, then drains: readiness turns 503 on HTTP and NOT_SERVING on
// gRPC, the servers keep serving for DrainDelay, then stop accepting and let
// in-flight requests finish.
func (s *service) run(ctx context.Context) error {
	httpLis, grpcLis, adminLis := s.httpLis, s.grpcLis, s.adminLis
	s.httpLis, s.grpcLis, s.adminLis = nil, nil, nil // the servers own and close them now
	s.logger.Info("listening", "http", httpLis.Addr().String(), "grpc", grpcLis.Addr().String(), "admin", adminLis.Addr().String())

	srv := httpkit.NewServer(s.cfg.HTTPAddr, s.handler, httpkit.WithErrorLog(s.logger))
	// One drain sequence for both servers: readiness turns 503 (HTTP) and
	// NOT_SERVING (gRPC), DrainDelay passes, then in-flight work gets
	// ShutdownTimeout. Kubernetes' terminationGracePeriodSeconds must exceed
	// DrainDelay + ShutdownTimeout + 1s.
	drain := lifecycle.Drain(lifecycle.DrainDelay(s.cfg.DrainDelay), lifecycle.ShutdownTimeout(s.cfg.ShutdownTimeout))
	return lifecycle.Run(ctx,
		lifecycle.HTTP(srv,
			lifecycle.Listener(httpLis),
			lifecycle.BeforeShutdown(s.checker.SetDraining),
			lifecycle.BeforeShutdown(func() { s.logger.Info("draining", "delay", s.cfg.DrainDelay) }),
			drain),
		// The gRPC health service turns NOT_SERVING as soon as shutdown
		// starts (Health.Run stops), and the server drains alongside HTTP.
		// The admin listener drains last-in-line like the others; its
		// WriteTimeout stays 0 so that CPU profiles can stream.
		lifecycle.HTTP(httpkit.NewServer(s.cfg.AdminAddr, s.adminHandler, httpkit.WithErrorLog(s.logger)),
			lifecycle.Listener(adminLis), lifecycle.ShutdownTimeout(s.cfg.ShutdownTimeout)),
		s.admin.Run,
		s.grpcHlth.Run,
		s.purge.Run,
		s.flags.Run,
		grpckit.Serve(s.grpc, grpcLis, drain),
	)
}

func (s *service) close() {
	for _, l := range []net.Listener{s.httpLis, s.grpcLis, s.adminLis} {
		if l != nil {
			_ = l.Close()
		}
	}
	if s.client != nil {
		_ = s.client.Close() // its per-host overload limiters' metric callbacks, and idle connections
	}
	if s.store != nil {
		s.store.close()
	}
	if s.shed != nil {
		s.shed.Close()
	}
	if s.flags != nil {
		_ = openfeature.ShutdownWithContext(context.Background())
	}
	if s.redis != nil {
		_ = s.redis.Close()
	}
}

// downstreamCheck reports whether the downstream accepts connections. It is
// non-critical: a failing downstream degrades /v1/digest only, and taking
// every replica out of rotation for it would turn a partial outage into a
// full one.
func (s *service) downstreamCheck(ctx context.Context) error {
	u, err := url.Parse(s.analyzeURL)
	if err != nil {
		return err
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	host := net.JoinHostPort(u.Hostname(), port)
	return health.TCPDial(host)(ctx)
}

// registerDebug adds the endpoints tests and load tests use: a handler that
// takes as long as it is asked to (and honours cancellation), runtime
// figures (goroutines, heap) for leak checks, and a log level switch.
func registerDebug(mux *http.ServeMux, level *slog.LevelVar, workSlots int) {
	// GET /debug/work?d=20ms holds one of workSlots slots for d, waiting for
	// a free one under the request's context: a resource of fixed, known
	// capacity (like a database pool), for overload tests.
	slots := make(chan struct{}, workSlots)
	mux.HandleFunc("GET /debug/work", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil || d < 0 || d > 10*time.Second {
			problem.Write(w, r, problem.BadRequest("d: must be a duration from 0s to 10s").With("field", "d"))
			return
		}
		select {
		case slots <- struct{}{}:
		case <-r.Context().Done():
			problem.Write(w, r, r.Context().Err())
			return
		}
		defer func() { <-slots }()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			_ = httpkit.WriteJSON(w, r, http.StatusOK, map[string]string{"worked": d.String()})
		case <-r.Context().Done():
			problem.Write(w, r, r.Context().Err())
		}
	})
	mux.HandleFunc("GET /debug/sleep", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil || d < 0 || d > time.Minute {
			problem.Write(w, r, problem.BadRequest("d: must be a duration from 0s to 1m").With("field", "d"))
			return
		}
		// With stream=1 the status line is sent at once and the body when
		// the sleep ends, so a client knows its request is in flight.
		stream := r.URL.Query().Get("stream") == "1"
		if stream {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_ = http.NewResponseController(w).Flush()
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			if stream {
				_, _ = fmt.Fprintf(w, "{\"slept\":%q}\n", d.String())
				return
			}
			_ = httpkit.WriteJSON(w, r, http.StatusOK, map[string]string{"slept": d.String()})
		case <-r.Context().Done():
			if !stream {
				problem.Write(w, r, r.Context().Err())
			}
		}
	})
	mux.HandleFunc("GET /debug/runtime", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") == "1" { // live heap rather than heap plus garbage
			runtime.GC()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		_ = httpkit.WriteJSON(w, r, http.StatusOK, map[string]uint64{
			"goroutines":       uint64(runtime.NumGoroutine()),
			"heap_alloc_bytes": ms.HeapAlloc,
			"heap_inuse_bytes": ms.HeapInuse,
		})
	})
	mux.HandleFunc("PUT /debug/loglevel", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Level string `json:"level"`
		}
		if err := httpkit.DecodeJSON(w, r, &in); err != nil {
			problem.Write(w, r, err)
			return
		}
		l, err := logz.ParseLevel(in.Level)
		if err != nil {
			problem.Write(w, r, problem.BadRequest("level: unknown level").With("field", "level"))
			return
		}
		level.Set(l)
		_ = httpkit.WriteJSON(w, r, http.StatusOK, map[string]string{"level": l.String()})
	})
}
