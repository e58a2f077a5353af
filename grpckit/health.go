package grpckit

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/chassis-go/chassis/health"
)

// DefaultPollInterval is how often [Health.Run] runs the checks unless
// PollInterval says otherwise.
const DefaultPollInterval = 5 * time.Second

// HealthOption configures [RegisterHealth].
type HealthOption func(*healthConfig)

type healthConfig struct {
	interval time.Duration
	services map[string][]string
}

// PollInterval sets how often [Health.Run] runs the checks; the default is
// DefaultPollInterval (5s). The Checker's CacheTTL still applies, so an
// interval shorter than it publishes cached reports. Panics if d is not
// positive.
func PollInterval(d time.Duration) HealthOption {
	if d <= 0 {
		panic(fmt.Sprintf("grpckit.PollInterval: d must be > 0, got %v; omit the option for the default of 5s", d))
	}
	return func(c *healthConfig) { c.interval = d }
}

// MapService adds a gRPC service name whose status combines the named health
// checks: SERVING when every one of them is up in the latest report, and
// NOT_SERVING otherwise (a name that is not a check of the Checker counts as
// down). With no checks, the service follows the overall status "". A mapped
// name takes precedence over a check of the same name; mapping a name twice
// keeps the last. Panics if service is empty: "" is always the overall status.
func MapService(service string, checks ...string) HealthOption {
	if service == "" {
		panic("grpckit.MapService: service is empty; the overall status is always served under \"\"")
	}
	checks = append([]string(nil), checks...)
	return func(c *healthConfig) {
		if c.services == nil {
			c.services = make(map[string][]string)
		}
		c.services[service] = checks
	}
}

// Health serves the standard grpc.health.v1.Health service from a
// *health.Checker. Create it with [RegisterHealth] and keep its statuses
// current with [Health.Run] (or [Health.Sync]). The zero Health is not
// usable. It is safe for concurrent use, and serves one grpc.Server for the
// life of the process: once shut down, it stays down.
type Health struct {
	checker  *health.Checker
	server   *grpchealth.Server // Check and List
	interval time.Duration
	services map[string][]string // MapService names, read-only after RegisterHealth

	// newTicker is the ticker Run uses; a white-box test replaces it.
	newTicker func(d time.Duration) (ticks <-chan time.Time, stop func())

	syncSem chan struct{} // one Sync at a time, so reports publish in order

	mu       sync.Mutex
	statuses map[string]healthpb.HealthCheckResponse_ServingStatus // what Watch reads
	changed  chan struct{}                                         // closed, and replaced, on every change
	down     bool                                                  // Shutdown was called
}

// RegisterHealth registers the grpc.health.v1.Health service (Check, Watch
// and List) on srv, answering from checker, and returns the *Health that
// keeps it up to date. Statuses come from the latest [health.Report]:
//
//   - "" (the whole server): SERVING when the report is up (every critical
//     check up), NOT_SERVING otherwise;
//   - one service per check, named after the check: SERVING when that check
//     is up, whether it is critical or not;
//   - the names added with [MapService].
//
// Until the first report, "" and the mapped names are NOT_SERVING and the
// per-check names are unknown (Check answers NOT_FOUND and Watch
// SERVICE_UNKNOWN). Nothing runs the checks until [Health.Run] or
// [Health.Sync] is called. Once the Checker is draining, or [Health.Shutdown]
// is called, every service is NOT_SERVING for good.
//
// Check and List are grpc's own health.Server. Watch is this package's: it
// sends the current status, then each change, like grpc's, but after
// Shutdown it sends NOT_SERVING and then ends the stream with Unavailable,
// so that watchers do not hold a graceful stop (grpc.Server.GracefulStop)
// until its timeout; the access log writes that end at Info level. Watch
// refuses a service name longer than 256 bytes with InvalidArgument, and
// keeps a copy of the name, not the request, for the life of the stream. Panics if srv or checker is nil, or if an option does.
func RegisterHealth(srv grpc.ServiceRegistrar, checker *health.Checker, opts ...HealthOption) *Health {
	if srv == nil {
		panic("grpckit.RegisterHealth: srv is nil; pass the *grpc.Server to register on")
	}
	if checker == nil {
		panic("grpckit.RegisterHealth: checker is nil; build one with health.New")
	}
	cfg := healthConfig{interval: DefaultPollInterval}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	h := &Health{
		checker:   checker,
		server:    grpchealth.NewServer(),
		interval:  cfg.interval,
		services:  cfg.services,
		newTicker: realTicker,
		syncSem:   make(chan struct{}, 1),
		statuses:  make(map[string]healthpb.HealthCheckResponse_ServingStatus, 1+len(cfg.services)),
		changed:   make(chan struct{}),
	}
	h.set("", healthpb.HealthCheckResponse_NOT_SERVING)
	for name := range h.services {
		h.set(name, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	healthpb.RegisterHealthServer(srv, &healthService{Server: h.server, h: h})
	return h
}

func realTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Run keeps the statuses current: it calls [Health.Sync] at once and then
// every poll interval until ctx is done, then calls [Health.Shutdown] (the
// statuses would otherwise go stale) and returns nil. It has the signature
// of a lifecycle.Component; run it next to the server's [Serve] component
// so that shutdown turns the health service NOT_SERVING and ends its Watch
// streams. Run runs on the caller's goroutine and leaves none behind;
// a Sync in progress when ctx ends returns at once (see health.Checker.Run
// for the checks themselves). Call Run once.
func (h *Health) Run(ctx context.Context) error {
	defer h.Shutdown()
	ticks, stop := h.newTicker(h.interval)
	defer stop()
	for {
		_ = h.Sync(ctx) // an error means ctx is done, seen below
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
		}
	}
}

// Sync runs the Checker once (health.Checker.Run with ctx) and publishes
// the report; Health.Run calls it on every tick. Calls are serialized, so
// reports publish in order. If the Checker is draining, Sync calls
// [Health.Shutdown]. If ctx ends first, nothing is published and Sync returns
// ctx.Err(); otherwise it returns nil. After Shutdown, Sync does nothing.
func (h *Health) Sync(ctx context.Context) error {
	select {
	case h.syncSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-h.syncSem }()
	if h.isDown() {
		return nil
	}
	if h.checker.Draining() {
		h.Shutdown()
		return nil
	}
	report := h.checker.Run(ctx)
	switch {
	case report.Draining:
		h.Shutdown()
		return nil
	case report.Status == health.StatusUnknown:
		return ctx.Err()
	}
	h.publish(report)
	return nil
}

func (h *Health) isDown() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down
}

// publish sets every status from report.
func (h *Health) publish(report health.Report) {
	up := make(map[string]bool, len(report.Checks))
	for _, c := range report.Checks {
		up[c.Name] = c.Status == health.StatusUp
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return
	}
	h.set("", servingStatus(report.Status == health.StatusUp))
	for name, ok := range up {
		if _, mapped := h.services[name]; !mapped {
			h.set(name, servingStatus(ok))
		}
	}
	for name, checks := range h.services {
		ok := report.Status == health.StatusUp
		if len(checks) > 0 {
			ok = true
			for _, c := range checks {
				ok = ok && up[c]
			}
		}
		h.set(name, servingStatus(ok))
	}
}

func servingStatus(up bool) healthpb.HealthCheckResponse_ServingStatus {
	if up {
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}

// set records one status; h.mu is held or h is not shared yet.
func (h *Health) set(service string, st healthpb.HealthCheckResponse_ServingStatus) {
	if old, ok := h.statuses[service]; ok && old == st {
		return
	}
	h.statuses[service] = st
	h.server.SetServingStatus(service, st)
	close(h.changed)
	h.changed = make(chan struct{})
}

// Shutdown turns every service NOT_SERVING for good (later reports are
// ignored) and ends the Watch streams once they have sent NOT_SERVING.
// Call it when the server starts to drain, for example with
// Serve(srv, lis, BeforeShutdown(h.Shutdown)); [Health.Run] calls it when its
// context ends, and Sync when the Checker is draining. It is idempotent and
// safe to call from any goroutine.
func (h *Health) Shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return
	}
	h.down = true
	h.server.Shutdown()
	for name := range h.statuses {
		h.statuses[name] = healthpb.HealthCheckResponse_NOT_SERVING
	}
	close(h.changed)
	h.changed = make(chan struct{})
}

// watchState returns what Watch needs to know about service.
func (h *Health) watchState(service string) (healthpb.HealthCheckResponse_ServingStatus, bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.statuses[service]
	if !ok {
		st = healthpb.HealthCheckResponse_SERVICE_UNKNOWN
	}
	return st, h.down, h.changed
}

// healthService is the registered service: grpc's Server for Check and
// List, with a Watch that ends at Shutdown.
type healthService struct {
	*grpchealth.Server
	h *Health
}

// maxServiceName is the longest service name Watch accepts: longer than any
// real one, short enough that a stream holding it costs little.
const maxServiceName = 256

// errWatchShutdown ends Watch streams at Shutdown. It is a normal end of a
// stream, so the access log writes it at Info level, not Error.
var errWatchShutdown = status.Error(codes.Unavailable, "health service shut down")

// errServiceName refuses a Watch for a service name no service has.
var errServiceName = status.Error(codes.InvalidArgument, fmt.Sprintf("service name longer than %d bytes", maxServiceName))

// Watch streams the status of the requested service. It keeps a copy of
// the service name, not the request, for the life of the stream, and
// refuses names longer than maxServiceName with InvalidArgument.
func (s *healthService) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	if len(req.GetService()) > maxServiceName {
		return errServiceName
	}
	service := strings.Clone(req.GetService())
	return s.watch(service, stream)
}

func (s *healthService) watch(service string, stream healthpb.Health_WatchServer) error {
	ctx := stream.Context()
	last := healthpb.HealthCheckResponse_ServingStatus(-1)
	for {
		st, down, changed := s.h.watchState(service)
		if st != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
				return err
			}
			last = st
		}
		if down {
			return errWatchShutdown
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}
