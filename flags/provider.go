package flags

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chassis-go/chassis/internal/instrument"

	"github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ProviderName is the name a Provider reports in its OpenFeature metadata
// (the feature_flag.provider.name attribute of telemetry).
const ProviderName = "chassis-flags"

const scope = "github.com/chassis-go/chassis/flags"

// eventBuffer is how many provider events wait for the SDK before new ones
// are dropped (see Provider.EventChannel).
const eventBuffer = 16

// Provider is an in-process OpenFeature provider: it evaluates the flags of
// one [Source] with targeting rules and sticky percentage rollouts. Register
// it with the OpenFeature SDK (openfeature.SetProviderAndWait, or an
// isolated API) and evaluate flags through the SDK's client, so that call
// sites stay the same if the service later moves to a hosted provider.
//
// Evaluation reads an immutable snapshot of the flags through an atomic
// pointer: it never blocks, not even during a reload, and allocates nothing
// on success except for object flags, whose value is a fresh deep copy.
// A Provider is safe for concurrent use; register it with one OpenFeature
// API (it may serve several domains of that API). It starts no goroutines
// of its own: the file is polled only while [Provider.Run] runs. The zero
// Provider is not usable; build one with [NewProvider].
type Provider struct {
	src       Source
	log       *slog.Logger
	now       func() time.Time
	interval  time.Duration
	cur       atomic.Pointer[ruleset] // nil until a load succeeds
	events    chan openfeature.Event
	hooks     []openfeature.Hook
	reloads   metric.Int64Counter
	okAttrs   metric.AddOption
	failAttrs metric.AddOption

	// newTicker is the ticker Run polls on, and afterPoll (nil in
	// production) is called by Run after each poll; white-box tests set them.
	newTicker func(d time.Duration) (ticks <-chan time.Time, stop func())
	afterPoll func()

	mu        sync.Mutex // serializes loads; guards the fields below
	stamp     fileStamp  // of the file content last read; zero after a read error
	loadedAt  time.Time
	lastErr   error
	lastErrAt time.Time
	inError   bool // the SDK was told PROVIDER_ERROR; the next good load says PROVIDER_READY
}

// NewProvider returns a Provider serving the flags of src, which it reads
// once before returning. If that first read fails, the failure is logged,
// counted and shown by [Provider.Status]; the Provider then answers every
// evaluation with the caller's default value and error code
// PROVIDER_NOT_READY, its Init method (called by the SDK) returns the error,
// and the first later load that succeeds (by [Provider.Run] or
// [Provider.Reload]) makes it ready.
//
// Panics if src is the zero Source or an option is invalid.
func NewProvider(src Source, opts ...Option) *Provider {
	if src.path == "" && src.prefix == "" {
		panic("flags.NewProvider: src is the zero Source; build one with flags.FileSource or flags.EnvSource")
	}
	o := options{interval: DefaultPollInterval}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.mp == nil {
		o.mp = otel.GetMeterProvider()
	}
	if o.now == nil {
		o.now = time.Now
	}
	meter := o.mp.Meter(scope)
	reloads := instrument.Int64Counter(meter, "chassis.flags.reloads", "{reload}",
		"Loads of the flag source that changed the flags (success) or were rejected (failure).")
	p := &Provider{
		src:       src,
		log:       o.log,
		now:       o.now,
		interval:  o.interval,
		events:    make(chan openfeature.Event, eventBuffer),
		hooks:     []openfeature.Hook{newHook(meter)},
		reloads:   reloads,
		okAttrs:   metric.WithAttributeSet(attribute.NewSet(attribute.String("chassis.outcome", "success"))),
		failAttrs: metric.WithAttributeSet(attribute.NewSet(attribute.String("chassis.outcome", "failure"))),
		newTicker: realTicker,
	}
	p.mu.Lock()
	_ = p.reloadLocked() // a failure is logged and kept in the status
	p.mu.Unlock()
	return p
}

func realTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Metadata returns the provider's name, [ProviderName].
func (p *Provider) Metadata() openfeature.Metadata {
	return openfeature.Metadata{Name: ProviderName}
}

// Hooks returns the provider's hook, which the SDK runs on every evaluation
// of this provider's flags: it counts evaluations and adds a span event to
// the caller's span (see the package documentation, "Telemetry").
func (p *Provider) Hooks() []openfeature.Hook { return p.hooks }

// Init is called by the SDK when the Provider is registered. It returns nil
// if flags are loaded, and the last load error otherwise (the SDK then
// reports the provider in ERROR state until a later load succeeds).
func (p *Provider) Init(openfeature.EvaluationContext) error {
	if p.cur.Load() != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur.Load() != nil {
		return nil
	}
	return fmt.Errorf("flags: no flags loaded from %s: %w", p.src, p.lastErr)
}

// Shutdown is called by the SDK when the Provider is replaced or the API is
// shut down. It does nothing: the Provider owns no goroutines, and polling
// stops when the context given to [Provider.Run] ends.
func (p *Provider) Shutdown() {}

// EventChannel returns the channel on which the Provider emits OpenFeature
// provider events for the SDK: PROVIDER_CONFIGURATION_CHANGED (with the
// changed flag keys) after a load that changed the flags, PROVIDER_ERROR
// (error code PARSE_ERROR or GENERAL) when a load is rejected and the last
// good flags stay in use, and PROVIDER_READY when a load succeeds after an
// error. Events are dropped, never waited for, when 16 are already waiting:
// register the Provider with one OpenFeature API, which reads the channel.
func (p *Provider) EventChannel() <-chan openfeature.Event { return p.events }

func (p *Provider) emit(t openfeature.EventType, d openfeature.ProviderEventDetails) {
	select {
	case p.events <- openfeature.Event{ProviderName: ProviderName, EventType: t, ProviderEventDetails: d}:
	default:
	}
}

// BooleanEvaluation evaluates a boolean flag; it implements
// [openfeature.FeatureProvider]. See the package documentation for reasons
// and error codes.
func (p *Provider) BooleanEvaluation(_ context.Context, key string, def bool, fc openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	return evaluate(p, key, kindBool, def, fc, func(v *variant) bool { return v.b })
}

// StringEvaluation evaluates a string flag; it implements
// [openfeature.FeatureProvider].
func (p *Provider) StringEvaluation(_ context.Context, key string, def string, fc openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	return evaluate(p, key, kindString, def, fc, func(v *variant) string { return v.s })
}

// FloatEvaluation evaluates a number flag (an integer flag reads as a float
// too); it implements [openfeature.FeatureProvider].
func (p *Provider) FloatEvaluation(_ context.Context, key string, def float64, fc openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	return evaluate(p, key, kindFloat, def, fc, func(v *variant) float64 { return v.f })
}

// IntEvaluation evaluates an integer flag (one whose variants are all
// integers); it implements [openfeature.FeatureProvider].
func (p *Provider) IntEvaluation(_ context.Context, key string, def int64, fc openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	return evaluate(p, key, kindInt, def, fc, func(v *variant) int64 { return v.i })
}

// ObjectEvaluation evaluates an object flag (JSON objects or arrays); it
// implements [openfeature.FeatureProvider]. The value is a deep copy
// (map[string]any or []any, numbers as float64) that the caller may modify.
func (p *Provider) ObjectEvaluation(_ context.Context, key string, def any, fc openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	return evaluate(p, key, kindObject, def, fc, func(v *variant) any { return deepCopy(v.obj) })
}

// evaluate resolves key as want and returns the variant's value, read by
// value, or def when no variant applies.
func evaluate[T any](p *Provider, key string, want kind, def T, fc openfeature.FlattenedContext, value func(*variant) T) openfeature.GenericResolutionDetail[T] {
	o := p.resolve(key, want, fc)
	if o.v != nil {
		def = value(o.v)
	}
	return openfeature.GenericResolutionDetail[T]{Value: def, ProviderResolutionDetail: o.detail}
}

// Reload reads the source now, whatever its modification time, and returns
// the error that made it reject the content (nil if the content was loaded or
// had not changed). A rejected load keeps the last good flags; like every
// load it is logged, counted and shown by [Provider.Status]. Use it to
// reload on SIGHUP, or to re-read an [EnvSource]. Reload is safe to call
// concurrently with evaluations, [Provider.Run] and itself; loads are
// serialized.
func (p *Provider) Reload() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reloadLocked()
}

// Run polls a file source every poll interval ([PollInterval]) and reloads
// the file when its modification time or size has changed, until ctx ends;
// it then returns nil. It has the shape of a lifecycle.Component. A content
// hash check keeps a touched but unchanged file from being reported as a
// change. For an [EnvSource], Run only waits for ctx. Run starts no
// goroutines and returns as soon as ctx ends, at most after the load in
// progress.
func (p *Provider) Run(ctx context.Context) error {
	if p.src.path == "" {
		<-ctx.Done()
		return nil
	}
	ticks, stop := p.newTicker(p.interval)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
			p.poll()
			if p.afterPoll != nil {
				p.afterPoll()
			}
		}
	}
}

// poll reloads the file if its stamp changed since it was last read.
func (p *Provider) poll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, err := p.src.stat(); err == nil && st == p.stamp {
		return // unchanged, whether its content was good or rejected
	}
	_ = p.reloadLocked()
}

// reloadLocked loads the source and swaps the new flags in if they differ
// from the current ones. p.mu is held.
func (p *Provider) reloadLocked() error {
	var rs *ruleset
	var err error
	if p.src.path != "" {
		st, serr := p.src.stat()
		var data []byte
		if serr == nil {
			data, serr = p.src.readFile()
		}
		if serr != nil {
			// Read again on the next tick, but report the same error once.
			p.stamp = fileStamp{}
			err = fmt.Errorf("flags: %s: %w", p.src, serr)
			if p.lastErr == nil || p.lastErr.Error() != err.Error() {
				p.fail(err, openfeature.GeneralCode)
			}
			return err
		}
		p.stamp = st
		rs, err = p.src.parse(data)
	} else {
		rs, err = parseEnv(p.src.prefix, os.Environ())
	}
	if err != nil {
		err = fmt.Errorf("flags: %s: %w", p.src, err)
		p.fail(err, openfeature.ParseErrorCode)
		return err
	}
	old := p.cur.Load()
	if old != nil && old.version == rs.version {
		if p.lastErr != nil {
			p.log.Info("flags: source is valid again; serving its flags", "source", p.src.String(), "version", short(rs.version))
		}
		p.succeeded()
		return nil
	}
	p.cur.Store(rs)
	p.loadedAt = p.now()
	changed := changedFlags(old, rs)
	p.reloads.Add(context.Background(), 1, p.okAttrs)
	p.log.Info("flags: loaded", "source", p.src.String(), "flags", len(rs.flags), "changed", len(changed), "version", short(rs.version))
	p.succeeded()
	if old != nil {
		p.emit(openfeature.ProviderConfigChange, openfeature.ProviderEventDetails{
			Message:     "flags changed in " + p.src.String(),
			FlagChanges: changed,
		})
	}
	return nil
}

// succeeded clears the error state after a good load. p.mu is held.
func (p *Provider) succeeded() {
	p.lastErr = nil
	if p.inError {
		p.inError = false
		p.emit(openfeature.ProviderReady, openfeature.ProviderEventDetails{Message: "flags loaded from " + p.src.String()})
	}
}

// fail records a rejected load: the last good flags stay in use. p.mu is held.
func (p *Provider) fail(err error, code openfeature.ErrorCode) {
	p.lastErr = err
	p.lastErrAt = p.now()
	p.inError = true
	p.reloads.Add(context.Background(), 1, p.failAttrs)
	if p.cur.Load() == nil {
		p.log.Error("flags: load failed; no flags loaded yet, evaluations return the callers' defaults", "source", p.src.String(), "err", err)
	} else {
		p.log.Error("flags: load failed; keeping the last good flags", "source", p.src.String(), "err", err)
	}
	p.emit(openfeature.ProviderError, openfeature.ProviderEventDetails{Message: err.Error(), ErrorCode: code})
}

func short(version string) string { return version[:12] }

// changedFlags returns, sorted, the keys of flags added, removed or changed
// from old to cur; nil if old is nil (the first load).
func changedFlags(old, cur *ruleset) []string {
	if old == nil {
		return nil
	}
	var keys []string
	for k, f := range cur.flags {
		if o, ok := old.flags[k]; !ok || o.kind != f.kind || !bytes.Equal(o.raw, f.raw) {
			keys = append(keys, k)
		}
	}
	for k := range old.flags {
		if _, ok := cur.flags[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Status is the state of a Provider's source, for operators (the admin
// page) and health checks. Its JSON form uses the field tags shown.
type Status struct {
	// Source is the source as [Source.String] writes it.
	Source string `json:"source"`
	// Flags is the number of flags being served; zero before the first
	// successful load.
	Flags int `json:"flags"`
	// Version is the hex SHA-256 of the source content being served
	// (for a file, of its bytes); empty before the first successful load.
	Version string `json:"version,omitempty"`
	// LoadedAt is when the flags being served were loaded, per the
	// Provider's clock; zero before the first successful load.
	LoadedAt time.Time `json:"loaded_at,omitzero"`
	// LastError is why the most recent load was rejected, or empty if it
	// succeeded. While it is set, the Provider serves the flags of Version
	// (none, if Flags is zero).
	LastError string `json:"last_error,omitempty"`
	// LastErrorAt is when LastError happened; zero if LastError is empty.
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Status returns the state of the Provider's source. It is safe for
// concurrent use and waits at most for a load in progress.
func (p *Provider) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{Source: p.src.String(), LoadedAt: p.loadedAt}
	if rs := p.cur.Load(); rs != nil {
		s.Flags, s.Version = len(rs.flags), rs.version
	}
	if p.lastErr != nil {
		s.LastError, s.LastErrorAt = p.lastErr.Error(), p.lastErrAt
	}
	return s
}

// Compile-time checks of the OpenFeature interfaces the SDK looks for.
var (
	_ openfeature.FeatureProvider = (*Provider)(nil)
	_ openfeature.StateHandler    = (*Provider)(nil)
	_ openfeature.EventHandler    = (*Provider)(nil)
)
