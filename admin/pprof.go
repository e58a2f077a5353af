package admin

import (
	"bufio"
	"bytes"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chassis-go/chassis/problem"
)

// The profiling routes speak net/http/pprof's protocol (so go tool pprof
// and go tool trace work against them) but are written on runtime/pprof:
// importing net/http/pprof would register its handlers on
// http.DefaultServeMux in an init function, exposing profiles on any server
// that serves the default mux, which is exactly what an admin listener is
// meant to prevent.

// maxProfileSeconds bounds ?seconds= of the CPU profile and the trace.
const maxProfileSeconds = 600

// profileDocs describes the runtime's profiles on the index page.
var profileDocs = map[string]string{
	"allocs":       "A sampling of all past memory allocations",
	"block":        "Stack traces that led to blocking on synchronization primitives",
	"goroutine":    "Stack traces of all current goroutines. Use debug=2 to dump them in the format of an unrecovered panic.",
	"heap":         "A sampling of memory allocations of live objects. Add gc=1 to run a GC first.",
	"mutex":        "Stack traces of holders of contended mutexes",
	"threadcreate": "Stack traces that led to the creation of new OS threads",
}

func (a *Admin) pprofRoutes(mux *http.ServeMux) {
	get := func(h http.HandlerFunc) http.Handler { return methods(h, http.MethodGet, http.MethodHead) }
	mux.Handle("/debug/pprof/", get(servePprof))
	mux.Handle("/debug/pprof/cmdline", get(serveCmdline))
	mux.Handle("/debug/pprof/profile", get(serveCPUProfile))
	mux.Handle("/debug/pprof/trace", get(serveTrace))
	mux.Handle("/debug/pprof/symbol", methods(http.HandlerFunc(serveSymbol), http.MethodGet, http.MethodHead, http.MethodPost))
}

// servePprof serves the index at /debug/pprof/ and a named profile below
// it: ?debug=N for text (as net/http/pprof), ?gc=1 to collect first.
func servePprof(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/debug/pprof/")
	if name == "" {
		servePprofIndex(w, r)
		return
	}
	p := pprof.Lookup(name)
	if p == nil {
		problem.Write(w, r, problem.NotFound("no such profile; see /debug/pprof/"))
		return
	}
	if r.FormValue("seconds") != "" {
		problem.Write(w, r, problem.BadRequest("delta profiles (?seconds=) are not served here; take two profiles and compare them with go tool pprof -base"))
		return
	}
	debug, err := strconv.Atoi(r.FormValue("debug"))
	if (err != nil && r.FormValue("debug") != "") || debug < 0 {
		problem.Write(w, r, problem.BadRequest("debug must be a non-negative integer"))
		return
	}
	if name == "heap" && r.FormValue("gc") != "" && r.FormValue("gc") != "0" {
		runtime.GC()
	}
	var b bytes.Buffer
	if err := p.WriteTo(&b, debug); err != nil {
		problem.Write(w, r, problem.Internal("writing the profile failed").Wrap(err))
		return
	}
	if debug > 0 {
		writeBody(w, r, "text/plain; charset=utf-8", b.Bytes())
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	writeBody(w, r, "application/octet-stream", b.Bytes())
}

type pprofEntry struct {
	Name, Doc string
	Count     int
}

func servePprofIndex(w http.ResponseWriter, r *http.Request) {
	var entries []pprofEntry
	for _, p := range pprof.Profiles() {
		entries = append(entries, pprofEntry{p.Name(), profileDocs[p.Name()], p.Count()})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	var b bytes.Buffer
	if err := pprofIndex.Execute(&b, entries); err != nil {
		problem.Write(w, r, problem.Internal("rendering the profile index failed").Wrap(err))
		return
	}
	writeBody(w, r, "text/html; charset=utf-8", b.Bytes())
}

func serveCmdline(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, strings.Join(os.Args, "\x00"))
	}
}

// seconds parses ?seconds=, def when absent.
func seconds(r *http.Request, def float64) (time.Duration, error) {
	s := r.FormValue("seconds")
	if s == "" {
		return time.Duration(def * float64(time.Second)), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) || f > maxProfileSeconds {
		return 0, problem.BadRequest(fmt.Sprintf("seconds must be a number above 0 and at most %d", maxProfileSeconds))
	}
	return time.Duration(f * float64(time.Second)), nil
}

// serveCPUProfile streams a CPU profile of ?seconds= (default 30), or until
// the client goes away.
func serveCPUProfile(w http.ResponseWriter, r *http.Request) {
	serveStream(w, r, 30, "profile", pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// serveTrace streams an execution trace of ?seconds= (default 1).
func serveTrace(w http.ResponseWriter, r *http.Request) {
	serveStream(w, r, 1, "trace", trace.Start, trace.Stop)
}

// serveStream runs start(w), waits ?seconds= (def when absent) or until the
// client goes away, then stop(). Only one of each stream can run in a
// process: a second one gets 409.
func serveStream(w http.ResponseWriter, r *http.Request, def float64, name string, start func(io.Writer) error, stop func()) {
	d, err := seconds(r, def)
	if err != nil {
		problem.Write(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if err := start(w); err != nil {
		w.Header().Del("Content-Disposition")
		problem.Write(w, r, problem.Conflict("a "+name+" is already being taken; try again when it ends").Wrap(err))
		return
	}
	wait(r, d)
	stop()
}

// wait returns after d or when the client goes away.
func wait(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// serveSymbol maps program counters to function names, the protocol of
// net/http/pprof.Symbol: GET reports that symbols are served; a POST body
// (or the query) holds addresses separated by '+'.
func serveSymbol(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	b.WriteString("num_symbols: 1\n")
	var in *bufio.Reader
	if r.Method == http.MethodPost {
		in = bufio.NewReader(http.MaxBytesReader(w, r.Body, 1<<20))
	} else {
		in = bufio.NewReader(strings.NewReader(r.URL.RawQuery))
	}
	for {
		word, err := in.ReadSlice('+')
		if err == nil {
			word = word[:len(word)-1]
		}
		if pc, perr := strconv.ParseUint(string(word), 0, 64); perr == nil && pc != 0 {
			if f := runtime.FuncForPC(uintptr(pc)); f != nil {
				fmt.Fprintf(&b, "%#x %s\n", pc, f.Name())
			}
		}
		if err != nil {
			break
		}
	}
	writeBody(w, r, "text/plain; charset=utf-8", b.Bytes())
}

var pprofIndex = template.Must(template.New("pprof").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,">
<title>pprof · admin</title>
<style>` + css + `</style></head>
<body>
<header><h1>profiles</h1><nav><a href="../../">status page</a></nav></header>
<main><section class="wide"><table class="grid"><tr><th>profile</th><th>count</th><th>what it holds</th></tr>
{{range .}}<tr><td><a href="{{.Name}}?debug=1">{{.Name}}</a></td><td class="num">{{.Count}}</td><td>{{.Doc}}</td></tr>
{{end}}<tr><td><a href="profile?seconds=30">profile</a></td><td></td><td>CPU profile of 30 seconds (add seconds=N); open with go tool pprof</td></tr>
<tr><td><a href="trace?seconds=1">trace</a></td><td></td><td>Execution trace of 1 second (add seconds=N); open with go tool trace</td></tr>
<tr><td><a href="cmdline">cmdline</a></td><td></td><td>The command line of this process</td></tr>
<tr><td><a href="goroutine?debug=2">full goroutine dump</a></td><td></td><td>Every goroutine's stack, as an unrecovered panic prints them</td></tr>
</table></section></main>
<footer>go tool pprof http://ADDR/debug/pprof/heap · with a token: go tool pprof -http=: "http://user:TOKEN@ADDR/debug/pprof/heap"</footer>
</body></html>`))
