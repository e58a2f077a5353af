package admin

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/chassis-go/chassis/health"
	"github.com/chassis-go/chassis/internal/panicval"
)

// Reporter is anything stateful that shows its state on the admin page.
// Report returns a value that encodes as JSON (a struct with json tags, a
// map, a slog.Value); its numeric leaves get sparklines. Report is called
// from its own goroutine, at most once at a time per Reporter, once per
// collection (on each [Admin.Run] tick and at most once a second for page
// requests). It must be cheap and bounded: report top-N lists, never every
// key. A Report that panics, runs past Config.ReportTimeout or returns
// more than Config.MaxReportSize bytes of JSON is shown as an error in its
// own section; the rest of the page is unaffected.
type Reporter interface {
	Report() any
}

// ReporterFunc adapts a function to [Reporter], so that a type with its
// own status method plugs in with one line:
//
//	a.Add("flags", admin.ReporterFunc(func() any { return provider.Status() }))
type ReporterFunc func() any

// Report returns f().
func (f ReporterFunc) Report() any { return f() }

// entry is one added Reporter.
type entry struct {
	name string
	r    Reporter
	busy atomic.Bool // a call is running; a timed-out one may still be
}

// Add shows r's reports in a section called name, after the sections added
// before it. It may be called at any time, from any goroutine. Panics if
// name is empty, already added or has a control character, or if r is nil.
func (a *Admin) Add(name string, r Reporter) {
	if name == "" {
		panic("admin.Add: name is empty; name the section, e.g. \"payments client\"")
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		panic(fmt.Sprintf("admin.Add: name %q has a control character; use printable text", name))
	}
	if r == nil {
		panic(fmt.Sprintf("admin.Add: reporter %q is nil; pass a Reporter or an admin.ReporterFunc", name))
	}
	if f, ok := r.(ReporterFunc); ok && f == nil {
		panic(fmt.Sprintf("admin.Add: reporter %q is a nil ReporterFunc; pass a function", name))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.names[name] {
		panic(fmt.Sprintf("admin.Add: reporter %q is already added; give each section its own name", name))
	}
	a.names[name] = true
	a.reporters = append(a.reporters, &entry{name: name, r: r})
}

// section is one reporter's (or the health or runtime) part of a snapshot.
type section struct {
	name string
	tree *node // nil when err is set
	err  string
}

// snapshot is one collection of every section.
type snapshot struct {
	at       time.Time
	health   *health.Report // nil without a Checker, or when ctx ended first
	runtime  *node
	sections []section
}

// Internal series names; reporter names are free-form, so these start with
// a byte no sensible name has.
const (
	healthSeries  = "\x00health"
	runtimeSeries = "\x00runtime"
)

// errStillRunning is shown for a reporter whose previous call has not
// returned.
var errStillRunning = errors.New("the previous report has not returned yet (it timed out); not called again until it does")

// collectNow calls every reporter in parallel, and the Checker, and waits
// for them until Config.ReportTimeout (the Checker: until its own check
// timeouts) or until ctx ends. Callers hold a.collect.
func (a *Admin) collectNow(ctx context.Context) *snapshot {
	a.mu.Lock()
	rs := slices.Clone(a.reporters)
	a.mu.Unlock()
	s := &snapshot{at: a.now(), sections: make([]section, len(rs))}
	results := make([]chan section, len(rs))
	for i, e := range rs {
		s.sections[i].name = e.name
		if !e.busy.CompareAndSwap(false, true) {
			s.sections[i].err = errStillRunning.Error()
			continue
		}
		results[i] = make(chan section, 1) // buffered: a timed-out call still finishes
		go func() {
			s := a.call(e)      // never panics
			e.busy.Store(false) // before the send, so the next collection may call e again
			results[i] <- s
		}()
	}
	var healthDone chan health.Report
	if a.checker != nil {
		healthDone = make(chan health.Report, 1)
		go func() { healthDone <- a.checker.Run(ctx) }()
	}
	s.runtime = runtimeTree(a.now().Sub(a.started))

	timer := time.NewTimer(a.timeout)
	defer timer.Stop()
	expired := false
	for i, ch := range results {
		if ch == nil {
			continue
		}
		if !expired {
			select {
			case s.sections[i] = <-ch:
				continue
			case <-timer.C:
				expired = true
			case <-ctx.Done():
				expired = true
			}
		}
		select {
		case s.sections[i] = <-ch:
		default:
			s.sections[i].err = fmt.Sprintf("no report within %v (admin Config.ReportTimeout)", a.timeout)
		}
	}
	if healthDone != nil {
		rep := <-healthDone // Run returns when ctx ends, without waiting for its checks
		s.health = &rep
	}
	return s
}

// call runs one Report, turning a panic or an unencodable value into the
// section's error.
func (a *Admin) call(e *entry) (s section) {
	s.name = e.name
	defer func() {
		if v := recover(); v != nil {
			s.tree, s.err = nil, "report panicked: "+panicval.String(v)
			if n, ok := a.panics.Allow(a.now()); ok {
				a.log().Error("admin: reporter panicked", "reporter", e.name, "panic", panicval.String(v), "stack", string(debug.Stack()), "suppressed", n)
			}
		}
	}()
	t, err := toTree(e.r.Report(), a.maxReport)
	if err != nil {
		return section{name: e.name, err: "report cannot be shown: " + panicval.String(err)}
	}
	s.tree = t
	return s
}

// snapshotFor returns a collection at most a second old (per the Clock),
// collecting one if needed.
func (a *Admin) snapshotFor(ctx context.Context) *snapshot {
	a.collect.Lock()
	defer a.collect.Unlock()
	a.mu.Lock()
	s := a.snap
	a.mu.Unlock()
	if s != nil {
		if age := a.now().Sub(s.at); age >= 0 && age < snapshotMaxAge {
			return s
		}
	}
	s = a.collectNow(ctx)
	a.mu.Lock()
	a.snap = s
	a.mu.Unlock()
	return s
}

// Sample collects every section once and records its numeric leaves in
// the sparkline history, at the time the Clock reads. [Admin.Run] calls it
// on every tick; tests and services that drive their own schedule call it
// directly. It waits for the reporters at most Config.ReportTimeout (and
// for the Checker's checks, their own timeouts), and less if ctx ends.
// Calls are serialized with each other and with page collections. It
// returns ctx.Err() if ctx was done before it started, else nil.
func (a *Admin) Sample(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.collect.Lock()
	defer a.collect.Unlock()
	s := a.collectNow(ctx)
	trees := map[string]*node{runtimeSeries: s.runtime}
	if s.health != nil {
		trees[healthSeries] = healthTree(*s.health)
	}
	for _, sec := range s.sections {
		trees[sec.name] = sec.tree
	}
	a.mu.Lock()
	a.snap = s
	a.hist.record(s.at, trees)
	a.mu.Unlock()
	return nil
}

// Run samples at once and then every Config.Interval until ctx is done,
// then returns nil. It has the signature of a lifecycle.Component: pass
// a.Run to lifecycle.Run next to the admin server. Without Run the page
// works but has no sparklines. Run runs on the caller's goroutine; the only
// goroutines it leaves behind are reporters that are still running past
// their timeout (they exit when their Report returns). Calling Run while
// another Run of the same Admin is running returns an error at once.
func (a *Admin) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("admin: Run called while another Run of this Admin is running")
	}
	defer a.running.Store(false)
	t := time.NewTicker(a.interval)
	defer t.Stop()
	for {
		if a.Sample(ctx) != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// runtimeSamples are the runtime/metrics read for the runtime section.
var runtimeSamples = [...]struct{ key, metric string }{
	{"goroutines", "/sched/goroutines:goroutines"},
	{"heap_bytes", "/memory/classes/heap/objects:bytes"},
	{"total_memory_bytes", "/memory/classes/total:bytes"},
	{"gc_cycles", "/gc/cycles/total:gc-cycles"},
	{"gomaxprocs", "/sched/gomaxprocs:threads"},
}

// runtimeTree reads a few cheap runtime metrics (no stop-the-world).
func runtimeTree(uptime time.Duration) *node {
	ms := make([]metrics.Sample, len(runtimeSamples))
	for i, s := range runtimeSamples {
		ms[i].Name = s.metric
	}
	metrics.Read(ms)
	n := object("uptime", str(uptime.Round(time.Second).String()))
	for i, s := range runtimeSamples {
		switch ms[i].Value.Kind() {
		case metrics.KindUint64:
			n.keys = append(n.keys, s.key)
			n.kids = append(n.kids, number(float64(ms[i].Value.Uint64())))
		case metrics.KindFloat64:
			n.keys = append(n.keys, s.key)
			n.kids = append(n.kids, number(ms[i].Value.Float64()))
		}
	}
	n.keys = append(n.keys, "go_version")
	n.kids = append(n.kids, str(runtime.Version()))
	return n
}

// healthTree is the health section: the shape of /healthz.
func healthTree(rep health.Report) *node {
	checks := &node{kind: kindArray}
	for _, c := range rep.Checks {
		cn := object("name", str(c.Name), "status", str(c.Status.String()), "critical", &node{kind: kindBool, text: fmt.Sprint(c.Critical)})
		if c.Err != nil {
			cn.keys = append(cn.keys, "error")
			cn.kids = append(cn.kids, str(panicval.String(c.Err)))
		}
		cn.keys = append(cn.keys, "duration_ms")
		cn.kids = append(cn.kids, number(float64(c.Duration.Microseconds())/1000))
		checks.kids = append(checks.kids, cn)
	}
	n := object("status", str(rep.Status.String()))
	if rep.Draining {
		n.keys = append(n.keys, "draining")
		n.kids = append(n.kids, &node{kind: kindBool, text: "true"})
	}
	n.keys = append(n.keys, "checks")
	n.kids = append(n.kids, checks)
	return n
}

// healthChecks is the page's health section: the checks table (the
// overall status is the section's tag), and the draining flag.
func healthChecks(rep health.Report) *node {
	t := healthTree(rep)
	t.keys, t.kids = t.keys[1:], t.kids[1:]
	return t
}

// buildSummary is the page's build section; /buildinfo has everything.
func buildSummary(bi *debug.BuildInfo) *node {
	n := object("go_version", str(bi.GoVersion), "path", str(bi.Path))
	if bi.Main.Path != "" {
		n.keys = append(n.keys, "main")
		n.kids = append(n.kids, str(bi.Main.Path+" "+bi.Main.Version))
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.time", "vcs.modified", "GOOS", "GOARCH", "-race", "CGO_ENABLED", "-tags":
			n.keys = append(n.keys, s.Key)
			n.kids = append(n.kids, str(s.Value))
		}
	}
	n.keys = append(n.keys, "dependencies")
	n.kids = append(n.kids, number(float64(len(bi.Deps))))
	return n
}

// buildTree is the full /buildinfo document.
func buildTree(bi *debug.BuildInfo) *node {
	mod := func(m *debug.Module) *node {
		n := object("path", str(m.Path), "version", str(m.Version))
		if m.Sum != "" {
			n.keys, n.kids = append(n.keys, "sum"), append(n.kids, str(m.Sum))
		}
		if m.Replace != nil {
			n.keys, n.kids = append(n.keys, "replace"), append(n.kids, object("path", str(m.Replace.Path), "version", str(m.Replace.Version)))
		}
		return n
	}
	settings := &node{kind: kindObject}
	for _, s := range bi.Settings {
		settings.keys, settings.kids = append(settings.keys, s.Key), append(settings.kids, str(s.Value))
	}
	deps := &node{kind: kindArray}
	for _, d := range bi.Deps {
		deps.kids = append(deps.kids, mod(d))
	}
	return object("go_version", str(bi.GoVersion), "path", str(bi.Path), "main", mod(&bi.Main), "settings", settings, "deps", deps)
}
