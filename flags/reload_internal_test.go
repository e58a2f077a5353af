package flags

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chassis-go/chassis/internal/fakeclock"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

const (
	docV1 = `{"flags": {"a": {"variants": {"on": true, "off": false}, "default": "on"},
	                    "b": {"variants": {"x": "x"}, "default": "x"}}}`
	docV2 = `{"flags": {"a": {"variants": {"on": true, "off": false}, "default": "off"},
	                    "b": {"variants": {"x": "x"}, "default": "x"},
	                    "c": {"variants": {"n": 1}, "default": "n"}}}`
	docBad = `{"flags": {"a": {"variants": {"on": true, "off": "no"}, "default": "on"}}}`
)

// reloadRig is a Provider on a temporary file, with a fake clock, a manual
// metric reader, a fake ticker and an isolated OpenFeature API whose provider
// events arrive on events.
type reloadRig struct {
	t       *testing.T
	path    string
	mtime   time.Time
	clock   *fakeclock.Clock
	reader  *sdkmetric.ManualReader
	p       *Provider
	client  *openfeature.Client
	events  chan openfeature.EventDetails // PROVIDER_CONFIGURATION_CHANGED, _ERROR and _READY, in order
	ticks   chan time.Time
	polled  chan struct{}
	stopped chan struct{}
	logs    *logBuffer
}

// logBuffer is a slog destination safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) count(s string) int { return strings.Count(l.String(), s) }

func newReloadRig(t *testing.T, content string) *reloadRig {
	t.Helper()
	r := &reloadRig{
		t:       t,
		path:    filepath.Join(t.TempDir(), "flags.json"),
		mtime:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		clock:   fakeclock.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)),
		reader:  sdkmetric.NewManualReader(),
		events:  make(chan openfeature.EventDetails, 64),
		ticks:   make(chan time.Time),
		polled:  make(chan struct{}),
		stopped: make(chan struct{}),
		logs:    &logBuffer{},
	}
	r.write(content)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	r.p = NewProvider(FileSource(r.path), WithClock(r.clock.Now), WithMeterProvider(mp), PollInterval(time.Minute),
		WithLogger(slog.New(slog.NewJSONHandler(r.logs, nil))))
	r.p.newTicker = func(d time.Duration) (<-chan time.Time, func()) {
		if d != time.Minute {
			t.Errorf("ticker interval = %v; want 1m", d)
		}
		return r.ticks, func() { close(r.stopped) }
	}
	r.p.afterPoll = func() { r.polled <- struct{}{} }
	api := isolated.NewAPI()
	t.Cleanup(func() { _ = api.Shutdown(context.Background()) })
	var mu sync.Mutex // the SDK calls handlers on goroutines of its own
	for _, et := range []openfeature.EventType{openfeature.ProviderConfigChange, openfeature.ProviderError, openfeature.ProviderReady} {
		cb := func(d openfeature.EventDetails) {
			mu.Lock()
			defer mu.Unlock()
			d.EventMetadata = map[string]any{"type": et}
			r.events <- d
		}
		api.AddHandler(et, &cb)
	}
	err := api.SetProviderAndWait(t.Context(), r.p, openfeature.WithDomain(t.Name()))
	if content == docBad {
		if err == nil {
			t.Fatal("SetProviderAndWait(invalid file) = nil; want the load error")
		}
	} else if err != nil {
		t.Fatalf("SetProviderAndWait() = %v", err)
	}
	r.client = api.NewClient(openfeature.WithDomain(t.Name()))
	return r
}

// write replaces the file's content and gives it a new modification time, so
// that the poll sees a change whatever the file system's time resolution.
func (r *reloadRig) write(content string) {
	r.t.Helper()
	if err := os.WriteFile(r.path, []byte(content), 0o600); err != nil {
		r.t.Fatal(err)
	}
	r.touch()
}

func (r *reloadRig) touch() {
	r.t.Helper()
	r.mtime = r.mtime.Add(time.Second)
	if err := os.Chtimes(r.path, r.mtime, r.mtime); err != nil {
		r.t.Fatal(err)
	}
}

// tick makes Run poll once and returns after the poll has finished.
func (r *reloadRig) tick() {
	r.ticks <- time.Time{}
	<-r.polled
}

// next returns the next provider event of type et, skipping events of other
// types and the READY event the SDK sends on registration.
func (r *reloadRig) next(et openfeature.EventType) openfeature.EventDetails {
	r.t.Helper()
	return r.nextAll(et)[et]
}

// nextAll waits for one event of each type in ets, in any order: the SDK
// calls each handler on a goroutine of its own, so handlers of events sent
// one after the other may run in either order.
func (r *reloadRig) nextAll(ets ...openfeature.EventType) map[openfeature.EventType]openfeature.EventDetails {
	r.t.Helper()
	got := map[openfeature.EventType]openfeature.EventDetails{}
	timeout := time.After(10 * time.Second) // a failure guard, not a wait for time to pass
	for len(got) < len(ets) {
		select {
		case d := <-r.events:
			et := d.EventMetadata["type"].(openfeature.EventType)
			if et == openfeature.ProviderReady && d.Message == "Provider initialization successful" {
				continue
			}
			for _, want := range ets {
				if et == want {
					got[et] = d
				}
			}
		case <-timeout:
			r.t.Fatalf("events %v: got only %v", ets, got)
		}
	}
	return got
}

// reloads returns the chassis.flags.reloads counter by outcome.
func (r *reloadRig) reloads() map[string]int64 {
	r.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		r.t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "chassis.flags.reloads" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				v, _ := dp.Attributes.Value(attribute.Key("chassis.outcome"))
				got[v.AsString()] += dp.Value
			}
		}
	}
	return got
}

func (r *reloadRig) bool(flag string) bool {
	return r.client.Boolean(r.t.Context(), flag, false, openfeature.EvaluationContext{})
}

// The whole reload story on one file: change, reject, keep serving, recover,
// ignore a touch, report a missing file once, stop.
func TestRunReloads(t *testing.T) {
	r := newReloadRig(t, docV1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.p.Run(ctx) }()

	if !r.bool("a") {
		t.Fatal("a = false before any reload; want true (v1)")
	}
	loaded1 := r.p.Status().LoadedAt

	// A change is swapped in and announced with the changed keys.
	r.clock.Advance(time.Minute)
	r.write(docV2)
	r.tick()
	if ev := r.next(openfeature.ProviderConfigChange); strings.Join(ev.FlagChanges, ",") != "a,c" {
		t.Errorf("CONFIGURATION_CHANGED FlagChanges = %v; want [a c]", ev.FlagChanges)
	}
	if r.bool("a") {
		t.Error("a = true after reload; want false (v2)")
	}
	st := r.p.Status()
	if st.Flags != 3 || st.LastError != "" || !st.LoadedAt.Equal(loaded1.Add(time.Minute)) {
		t.Errorf("Status() = %+v; want 3 flags, no error, LoadedAt one minute later", st)
	}
	v2 := st.Version

	// An invalid file is rejected: the v2 flags stay, the error is shown.
	r.clock.Advance(time.Minute)
	r.write(docBad)
	r.tick()
	ev := r.next(openfeature.ProviderError)
	if !strings.Contains(ev.Message, `variants["on"] is boolean but other variants are string`) && !strings.Contains(ev.Message, `variants["off"] is string but other variants are boolean`) {
		t.Errorf("PROVIDER_ERROR message = %q; want the validation error", ev.Message)
	}
	st = r.p.Status()
	if st.Flags != 3 || st.Version != v2 || !strings.Contains(st.LastError, `flag "a"`) || !st.LastErrorAt.Equal(r.clock.Now()) {
		t.Errorf("Status() after a bad file = %+v; want v2 kept and the error with its time", st)
	}
	if r.bool("a") || r.client.Int(t.Context(), "c", 0, openfeature.EvaluationContext{}) != 1 {
		t.Error("evaluations after a bad file do not serve v2")
	}
	// The same bad file, polled again: not re-read, not counted again.
	r.tick()
	if got := r.reloads(); got["failure"] != 1 || got["success"] != 2 {
		t.Errorf("reloads = %v; want success 2 (v1, v2), failure 1", got)
	}
	if n := r.logs.count(`"level":"ERROR"`); n != 1 {
		t.Errorf("%d Error records after one bad file; want 1:\n%s", n, r.logs.String())
	}

	// Fixing the file recovers with READY. The content is v2 again, which is
	// being served, so nothing changed and nothing is counted.
	r.write(docV2)
	r.tick()
	r.next(openfeature.ProviderReady)
	if st := r.p.Status(); st.LastError != "" || st.Version != v2 {
		t.Errorf("Status() after the fix = %+v; want v2 and no error", st)
	}

	// Touching the file without changing it is not a change.
	r.touch()
	r.tick()
	if got := r.reloads(); got["success"] != 2 {
		t.Errorf("reloads after a touch = %v; want success still 2", got)
	}

	// A missing file is reported once however many polls see it.
	if err := os.Remove(r.path); err != nil {
		t.Fatal(err)
	}
	r.tick()
	r.tick()
	if got := r.reloads(); got["failure"] != 2 {
		t.Errorf("reloads after a missing file = %v; want failure 2", got)
	}
	if n := r.logs.count(`"level":"ERROR"`); n != 2 {
		t.Errorf("%d Error records after a missing file; want 2:\n%s", n, r.logs.String())
	}
	if st := r.p.Status(); !strings.Contains(st.LastError, "no such file") || st.Flags != 3 {
		t.Errorf("Status() with the file missing = %+v; want the error and v2 kept", st)
	}
	// It comes back with new content: READY, then the change.
	r.write(docV1)
	r.tick()
	evs := r.nextAll(openfeature.ProviderReady, openfeature.ProviderConfigChange)
	if ev := evs[openfeature.ProviderConfigChange]; strings.Join(ev.FlagChanges, ",") != "a,c" {
		t.Errorf("CONFIGURATION_CHANGED FlagChanges = %v; want [a c]", ev.FlagChanges)
	}
	if !r.bool("a") {
		t.Error("a = false after the file came back as v1; want true")
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v after cancel; want nil", err)
	}
	<-r.stopped // the ticker was stopped
}

// A Provider whose first load fails serves PROVIDER_NOT_READY with the
// caller's default, and becomes ready on the first good load.
func TestFirstLoadFails(t *testing.T) {
	r := newReloadRig(t, docBad)
	d, _ := r.client.BooleanValueDetails(t.Context(), "a", true, openfeature.EvaluationContext{})
	if d.Value != true || d.ErrorCode != openfeature.ProviderNotReadyCode || d.Reason != openfeature.ErrorReason {
		t.Errorf("before any good load: %+v; want the default with PROVIDER_NOT_READY", d)
	}
	if st := r.p.Status(); st.Flags != 0 || st.Version != "" || st.LastError == "" || !st.LoadedAt.IsZero() {
		t.Errorf("Status() = %+v; want no flags and the error", st)
	}
	r.write(docV1)
	if err := r.p.Reload(); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	r.next(openfeature.ProviderReady)
	if !r.bool("a") {
		t.Error("a = false after a good load; want true")
	}
	if r.client.State() != openfeature.ReadyState {
		t.Errorf("client.State() = %v; want READY", r.client.State())
	}
}

// Reload re-reads even when the modification time did not change, and
// reports the content's error.
func TestReloadIgnoresStamp(t *testing.T) {
	r := newReloadRig(t, docV1)
	if err := os.WriteFile(r.path, []byte(docV2), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(r.path, r.mtime, r.mtime); err != nil { // the old stamp
		t.Fatal(err)
	}
	if err := r.p.Reload(); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	if r.bool("a") {
		t.Error("a = true after Reload of v2; want false")
	}
	if err := os.WriteFile(r.path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.p.Reload(); err == nil || !strings.Contains(err.Error(), "invalid JSON") {
		t.Errorf("Reload(truncated file) = %v; want an invalid JSON error", err)
	}
}

// A Provider no SDK reads events from never blocks on them: events beyond
// the buffer are dropped.
func TestEventsDroppedWhenUnread(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "flags.json")
	docs := []string{docV1, docV2}
	if err := os.WriteFile(path, []byte(docV1), 0o600); err != nil {
		t.Fatal(err)
	}
	p := NewProvider(FileSource(path), WithLogger(slog.New(slog.DiscardHandler)))
	for i := range 3 * eventBuffer {
		if err := os.WriteFile(path, []byte(docs[(i+1)%2]), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := p.Reload(); err != nil {
			t.Fatalf("Reload() = %v", err)
		}
	}
	if n := len(p.EventChannel()); n != eventBuffer {
		t.Errorf("%d events waiting; want the buffer full (%d) and the rest dropped", n, eventBuffer)
	}
}

// Evaluations running during reloads see one whole snapshot or the other:
// the value and the variant always agree.
func TestEvaluateDuringReload(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "flags.json")
	if err := os.WriteFile(path, []byte(docV1), 0o600); err != nil {
		t.Fatal(err)
	}
	p := NewProvider(FileSource(path), WithLogger(slog.New(slog.DiscardHandler)))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := p.BooleanEvaluation(context.Background(), "a", false, nil)
				if (d.Value && d.Variant != "on") || (!d.Value && d.Variant != "off") || d.Error() != nil {
					t.Errorf("BooleanEvaluation(a) = %+v; want on/true or off/false", d)
					return
				}
			}
		})
	}
	for i := range 200 {
		doc := docV1
		if i%2 == 0 {
			doc = docV2
		}
		tmp := path + ".tmp" // written atomically, as the package documentation asks
		if err := os.WriteFile(tmp, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		if err := p.Reload(); err != nil {
			t.Fatalf("Reload() = %v", err)
		}
	}
	close(stop)
	wg.Wait()
}
