package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/internal/logthrottle"
	"github.com/chassis-go/chassis/problem"
)

// Defaults of the zero [Config] fields.
const (
	DefaultInterval      = 5 * time.Second // Config.Interval: time between samples
	DefaultHistory       = 120             // Config.History: 10 minutes at DefaultInterval
	DefaultMaxSeries     = 32              // Config.MaxSeries: charted leaves per reporter
	DefaultReportTimeout = time.Second     // Config.ReportTimeout: wait for the reporters
	DefaultMaxReportSize = 64 << 10        // Config.MaxReportSize: bytes of JSON per report
)

// maxHistory bounds Config.History: a week of samples at one a minute.
const maxHistory = 7 * 24 * 60

// minTokenLen is the shortest Token New accepts.
const minTokenLen = 16

// snapshotMaxAge is how long a page or JSON request reuses the latest
// collection, so that a burst of requests (or many open tabs) calls each
// reporter at most once a second.
const snapshotMaxAge = time.Second

// Config says what an [Admin] shows and controls. Every field is optional;
// the zero Config serves a status page with the runtime section, build
// information and pprof.
type Config struct {
	// Title heads the status page. Empty means the main module path from
	// the build information.
	Title string

	// Checker, if set, is run (with error texts shown) for the page's
	// health section and served at /healthz in the format of
	// [health.Checker.ReadyHandler] with [health.ShowErrors].
	Checker *health.Checker

	// Metrics, if set, is served at /metrics (usually a telemetry
	// Provider's MetricsHandler()).
	Metrics http.Handler

	// LevelVar, if set, is the log level that /loglevel reads (GET) and
	// changes (PUT {"level":"debug"}); build the service's handler with it
	// (logz does). Nil makes /loglevel answer 404.
	LevelVar *slog.LevelVar

	// Config is shown on the page and in /status.json. Pass it redacted:
	// config.Redacted(cfg), whose slog.Value keeps field order. Any other
	// value is encoded as JSON once, by New. Nil shows no config section.
	Config any

	// Build is shown on the page and served at /buildinfo. Nil means
	// runtime/debug.ReadBuildInfo(), read once by New.
	Build *debug.BuildInfo

	// Token, if not empty, is required on every route, the page included:
	// "Authorization: Bearer <token>" for scripts and scrapers, or HTTP
	// Basic authentication with the token as the password (any user name)
	// so that a browser can open the page. Compared in constant time. New
	// panics if it is shorter than 16 bytes or contains spaces or control
	// characters. Without a Token, serve the Admin on a loopback address
	// only; with one, over TLS anywhere else, since the token travels in
	// every request.
	Token string

	// Hosts lists host names (besides IP literals and "localhost") that
	// requests may name in their Host header when there is no Token. This
	// defeats DNS rebinding: a web page the operator opens cannot make the
	// browser talk to an unauthenticated admin listener under a name the
	// attacker controls. Add the name a scraper uses (e.g. a Kubernetes
	// service name). Ignored when Token is set.
	Hosts []string

	// Interval is the time between two samples taken by [Admin.Run] for
	// the sparklines; the page refreshes itself as often (at most every
	// 30 seconds). Zero means 5s; negative panics.
	Interval time.Duration

	// History is how many samples each sparkline keeps. Zero means 120
	// (10 minutes at the default Interval); negative or more than 10080
	// panics.
	History int

	// MaxSeries bounds the numeric leaves charted per reporter; leaves
	// beyond it are shown without a chart. Zero means 32; negative panics.
	MaxSeries int

	// ReportTimeout bounds how long a collection waits for the reporters;
	// one still running after it is shown as timed out, and is not called
	// again until it returns. Zero means 1s; negative panics.
	ReportTimeout time.Duration

	// MaxReportSize bounds each reporter's output, in bytes of JSON; a
	// larger report is replaced by an error. Zero means 64 KiB; negative
	// panics.
	MaxReportSize int

	// Clock is used for sample times, uptime and the one-second reuse of
	// a collection. Nil means time.Now.
	Clock func() time.Time

	// Logger receives log level changes and reporter panics (at most one
	// record a second for panics). Nil means slog.Default() at the time of
	// logging.
	Logger *slog.Logger
}

// Admin is the operator's HTTP handler: a status page of every stateful
// part of the service, the same data as JSON, a detailed health report,
// metrics, pprof and the log level. Serve it on its own listener, at the
// root path, bound to a loopback address unless Config.Token is set; never
// on the public port. Build it with [New]; the zero Admin is not usable. It
// is safe for concurrent use.
type Admin struct {
	title     string
	checker   *health.Checker
	metrics   http.Handler
	levelVar  *slog.LevelVar
	config    *node
	build     *debug.BuildInfo
	buildTree *node
	token     [sha256.Size]byte
	hasToken  bool
	hosts     map[string]bool
	interval  time.Duration
	timeout   time.Duration
	maxReport int
	now       func() time.Time
	logger    *slog.Logger
	started   time.Time
	handler   http.Handler
	panics    logthrottle.Throttle

	running atomic.Bool
	collect sync.Mutex // serializes collections, so each reporter runs once at a time

	mu        sync.Mutex // guards the fields below
	reporters []*entry
	names     map[string]bool
	hist      *history
	snap      *snapshot
}

// New returns an Admin configured by cfg; it starts no goroutine (see
// [Admin.Run] for the sparklines). Panics, with a message naming the
// field, if a field is invalid (see [Config]).
func New(cfg Config) *Admin {
	switch {
	case cfg.Interval < 0:
		panic(fmt.Sprintf("admin.New: cfg.Interval must not be negative, got %v; use 0 for the default of %v", cfg.Interval, DefaultInterval))
	case cfg.History < 0 || cfg.History > maxHistory:
		panic(fmt.Sprintf("admin.New: cfg.History must be between 0 and %d, got %d; use 0 for the default of %d", maxHistory, cfg.History, DefaultHistory))
	case cfg.MaxSeries < 0:
		panic(fmt.Sprintf("admin.New: cfg.MaxSeries must not be negative, got %d; use 0 for the default of %d", cfg.MaxSeries, DefaultMaxSeries))
	case cfg.ReportTimeout < 0:
		panic(fmt.Sprintf("admin.New: cfg.ReportTimeout must not be negative, got %v; use 0 for the default of %v", cfg.ReportTimeout, DefaultReportTimeout))
	case cfg.MaxReportSize < 0:
		panic(fmt.Sprintf("admin.New: cfg.MaxReportSize must not be negative, got %d; use 0 for the default of %d", cfg.MaxReportSize, DefaultMaxReportSize))
	}
	if cfg.Token != "" {
		if len(cfg.Token) < minTokenLen {
			panic(fmt.Sprintf("admin.New: cfg.Token is %d bytes, shorter than %d; use at least 16 random bytes, e.g. from openssl rand -hex 16", len(cfg.Token), minTokenLen))
		}
		if strings.ContainsFunc(cfg.Token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			panic("admin.New: cfg.Token contains a space or control character; use printable ASCII, e.g. from openssl rand -hex 16")
		}
	}
	a := &Admin{
		title:     cfg.Title,
		checker:   cfg.Checker,
		metrics:   cfg.Metrics,
		levelVar:  cfg.LevelVar,
		build:     cfg.Build,
		hasToken:  cfg.Token != "",
		token:     sha256.Sum256([]byte(cfg.Token)),
		hosts:     map[string]bool{"localhost": true},
		interval:  or(cfg.Interval, DefaultInterval),
		timeout:   or(cfg.ReportTimeout, DefaultReportTimeout),
		maxReport: or(cfg.MaxReportSize, DefaultMaxReportSize),
		now:       cfg.Clock,
		logger:    cfg.Logger,
		names:     map[string]bool{},
		hist:      newHistory(or(cfg.History, DefaultHistory), or(cfg.MaxSeries, DefaultMaxSeries)),
	}
	for _, h := range cfg.Hosts {
		a.hosts[strings.ToLower(h)] = true
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.started = a.now()
	if a.build == nil {
		a.build, _ = debug.ReadBuildInfo()
	}
	if a.build == nil {
		a.build = &debug.BuildInfo{}
	}
	a.buildTree = buildSummary(a.build)
	if a.title == "" {
		a.title = a.build.Path
	}
	if a.title == "" {
		a.title = "chassis service"
	}
	if cfg.Config != nil {
		t, err := toTree(cfg.Config, 1<<20)
		if err != nil {
			panic(fmt.Sprintf("admin.New: cfg.Config cannot be shown: %v; pass config.Redacted(cfg) or a struct of plain fields", err))
		}
		a.config = t
	}
	a.handler = a.routes()
	return a
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (a *Admin) log() *slog.Logger {
	if a.logger != nil {
		return a.logger
	}
	return slog.Default()
}

// routes builds the mux. Method checks are done by each handler, because a
// method-qualified pattern would let the catch-all answer 404 instead of
// 405 for a known path.
func (a *Admin) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", methods(http.HandlerFunc(a.servePage), http.MethodGet, http.MethodHead))
	mux.Handle("/status.json", methods(http.HandlerFunc(a.serveJSON), http.MethodGet, http.MethodHead))
	mux.Handle("/buildinfo", methods(http.HandlerFunc(a.serveBuild), http.MethodGet, http.MethodHead))
	mux.Handle("/loglevel", methods(http.HandlerFunc(a.serveLevel), http.MethodGet, http.MethodHead, http.MethodPut))
	mux.Handle("/healthz", a.healthz())
	mux.Handle("/metrics", a.metricsHandler())
	a.pprofRoutes(mux)
	return mux
}

func (a *Admin) healthz() http.Handler {
	if a.checker == nil {
		return notConfigured("no health checker is configured (admin Config.Checker)")
	}
	return a.checker.ReadyHandler(health.ShowErrors())
}

func (a *Admin) metricsHandler() http.Handler {
	if a.metrics == nil {
		return notConfigured("no metrics handler is configured (admin Config.Metrics)")
	}
	return a.metrics
}

func notConfigured(detail string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.NotFound(detail))
	})
}

// methods answers other methods with 405 and an Allow header.
func methods(h http.Handler, allow ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range allow {
			if r.Method == m {
				h.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		problem.Write(w, r, problem.New(http.StatusMethodNotAllowed, "method not allowed"))
	})
}

// ServeHTTP serves the admin routes:
//
//	GET /                 the status page (HTML, refreshing itself)
//	GET /status.json      the same data as JSON
//	GET /healthz          the health report with error texts (404 without Checker)
//	GET /metrics          Config.Metrics (404 without it)
//	GET /debug/pprof/...  profiles, as net/http/pprof serves them
//	GET, PUT /loglevel    {"level":"INFO"}; PUT changes it (404 without LevelVar)
//	GET /buildinfo        the build information as JSON
//
// Every response carries a Content-Security-Policy allowing no external
// source and no framing, X-Content-Type-Options: nosniff and
// Cache-Control: no-store. With a Token, a request without it gets 401 with
// WWW-Authenticate challenges for Bearer and Basic. Without one, a request
// whose Host is not an IP literal, "localhost" or one of Config.Hosts gets
// 403. Errors are RFC 9457 problem responses.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if a.hasToken {
		if !a.authorized(r) {
			h.Add("WWW-Authenticate", `Bearer realm="admin"`)
			h.Add("WWW-Authenticate", `Basic realm="admin", charset="UTF-8"`)
			problem.Write(w, r, problem.Unauthorized("this admin listener needs its token: Authorization: Bearer <token>, or Basic with the token as password"))
			return
		}
	} else if !a.hostAllowed(r.Host) {
		problem.Write(w, r, problem.Forbidden("the Host header names no allowed host; use an IP address or localhost, or add the name to admin Config.Hosts"))
		return
	}
	a.handler.ServeHTTP(w, r)
}

// authorized reports whether r carries the token. Both sides are hashed
// first, so the comparison takes the same time whatever the lengths.
func (a *Admin) authorized(r *http.Request) bool {
	var got string
	auth := r.Header.Get("Authorization")
	if scheme, rest, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Bearer") {
		got = strings.TrimSpace(rest)
	} else if _, pw, ok := r.BasicAuth(); ok {
		got = pw
	} else {
		return false
	}
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], a.token[:]) == 1
}

// hostAllowed reports whether host (a Host header, perhaps with a port)
// may reach an Admin without a token.
func (a *Admin) hostAllowed(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return a.hosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}
