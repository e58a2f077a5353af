package admin

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chassis-go/chassis/problem"
)

// pageData is what the template renders.
type pageData struct {
	Title    string
	Now      string
	Uptime   string
	Refresh  int
	Level    string
	Health   *view
	Status   string // overall health: "up", "down", "unknown" or ""
	Sections []sectionView
	Runtime  *view
	Build    *view
	Config   *view
	Window   string
}

type sectionView struct {
	ID   string
	Name string
	Err  string
	Wide bool // holds a table of many columns: give it two grid columns
	Body *view
}

// view is one value as the template draws it.
type view struct {
	Kind  string // "scalar", "object", "table" or "list"
	Text  string
	Class string
	Hint  string // the exact value, when Text is rounded
	Spark *spark
	Rows  []row
	Cols  []string
	Cells [][]*view
	Items []*view
}

type row struct {
	Key string
	Val *view
}

// longText is the length above which a string may wrap anywhere; shorter
// ones (hosts, keys, times) stay on one line.
const longText = 32

// maxColumns bounds a table's columns; wider objects are drawn nested.
const maxColumns = 10

// toView draws n; series of section are looked up by path.
func (a *Admin) toView(n *node, section, path, key string) *view {
	switch n.kind {
	case kindObject:
		v := &view{Kind: "object"}
		for i, k := range n.kids {
			v.Rows = append(v.Rows, row{n.keys[i], a.toView(k, section, childPath(n, path, i), n.keys[i])})
		}
		return v
	case kindArray:
		if cols, ok := tableColumns(n); ok {
			v := &view{Kind: "table", Cols: cols}
			for i, el := range n.kids {
				p := childPath(n, path, i)
				cells := make([]*view, len(cols))
				for c, col := range cols {
					cells[c] = &view{Kind: "scalar"}
					for j, k := range el.keys {
						if k == col {
							cells[c] = a.toView(el.kids[j], section, p+"."+k, k)
						}
					}
				}
				v.Cells = append(v.Cells, cells)
			}
			return v
		}
		v := &view{Kind: "list"}
		for i, k := range n.kids {
			v.Items = append(v.Items, a.toView(k, section, childPath(n, path, i), key))
		}
		return v
	case kindNumber:
		v := &view{Kind: "scalar", Class: "num", Text: n.text}
		if f, err := strconv.ParseFloat(n.text, 64); err == nil {
			v.Text = formatNum(f)
			if strings.HasSuffix(key, "bytes") {
				v.Text = formatBytes(f)
			}
			if v.Text != n.text {
				v.Hint = n.text
			}
		}
		v.Spark = sparkline(a.hist.values(section, path))
		return v
	case kindString:
		class := "str"
		if len(n.text) > longText {
			class = "str long"
		}
		if sc := stateClass(n.text); sc != "" {
			class += " " + sc
		}
		return &view{Kind: "scalar", Class: class, Text: n.text}
	}
	return &view{Kind: "scalar", Class: "lit", Text: n.text}
}

// widest returns the most columns of any table in v.
func (v *view) widest() int {
	n := len(v.Cols)
	for _, r := range v.Rows {
		n = max(n, r.Val.widest())
	}
	for _, it := range v.Items {
		n = max(n, it.widest())
	}
	return n
}

// tableColumns reports whether array n is a list of flat objects, drawn
// as a table, and returns its columns in first-seen order.
func tableColumns(n *node) ([]string, bool) {
	if len(n.kids) == 0 {
		return nil, false
	}
	var cols []string
	for _, el := range n.kids {
		if el.kind != kindObject {
			return nil, false
		}
		for i, k := range el.keys {
			if el.kids[i].kind == kindObject || el.kids[i].kind == kindArray {
				return nil, false
			}
			found := false
			for _, c := range cols {
				found = found || c == k
			}
			if !found {
				cols = append(cols, k)
			}
		}
	}
	// Naming columns (host, name, ...) go first, whatever the key order.
	var named []string
	for _, f := range keyFields {
		if i := slices.Index(cols, f); i >= 0 {
			named = append(named, f)
			cols = slices.Delete(cols, i, i+1)
		}
	}
	return append(named, cols...), len(named)+len(cols) <= maxColumns
}

// stateClass colours well-known state words.
func stateClass(s string) string {
	switch strings.ToLower(s) {
	case "up", "ok", "closed", "healthy", "serving", "ready":
		return "good"
	case "down", "open", "error", "failed", "unhealthy", "degraded", "not_serving":
		return "bad"
	case "half-open", "half_open", "halfopen", "unknown", "draining", "stale":
		return "warn"
	}
	return ""
}

func formatBytes(f float64) string {
	const unit = 1024.0
	if math.Abs(f) < unit {
		return formatNum(f) + " B"
	}
	exp := 0
	for math.Abs(f) >= unit && exp < 5 {
		f /= unit
		exp++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + "KMGTP"[exp-1:exp] + "iB"
}

func (a *Admin) servePage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		problem.Write(w, r, problem.NotFound("no such admin page; see / for the status page"))
		return
	}
	s := a.snapshotFor(r.Context())
	d := pageData{
		Title:   a.title,
		Now:     s.at.UTC().Format(time.RFC3339),
		Uptime:  s.at.Sub(a.started).Round(time.Second).String(),
		Refresh: int(min(max(a.interval, time.Second), 30*time.Second) / time.Second),
		Window:  (a.interval * time.Duration(len(a.hist.times))).String(),
	}
	if a.levelVar != nil {
		d.Level = a.levelVar.Level().String()
	}
	a.mu.Lock() // toView reads the history
	d.Build = a.toView(a.buildTree, "", "", "")
	if a.config != nil {
		d.Config = a.toView(a.config, "", "", "")
	}
	if s.health != nil {
		d.Status = s.health.Status.String()
		d.Health = a.toView(healthChecks(*s.health), healthSeries, "", "")
	}
	d.Runtime = a.toView(s.runtime, runtimeSeries, "", "")
	for i, sec := range s.sections {
		sv := sectionView{ID: "r" + strconv.Itoa(i), Name: sec.name, Err: sec.err}
		if sec.tree != nil {
			sv.Body = a.toView(sec.tree, sec.name, "", "")
			sv.Wide = sv.Body.widest() >= 4
		}
		d.Sections = append(d.Sections, sv)
	}
	a.mu.Unlock()
	var b bytes.Buffer
	if err := page.Execute(&b, d); err != nil {
		problem.Write(w, r, problem.Internal("admin: rendering the status page failed").Wrap(err))
		return
	}
	writeBody(w, r, "text/html; charset=utf-8", b.Bytes())
}

// wireStatus is the JSON of /status.json.
type wireStatus struct {
	Title           string        `json:"title"`
	Time            time.Time     `json:"time"`
	Started         time.Time     `json:"started"`
	LogLevel        string        `json:"log_level,omitempty"`
	IntervalSeconds float64       `json:"interval_seconds"`
	Health          *node         `json:"health,omitempty"`
	HealthHistory   series        `json:"health_history,omitempty"`
	Runtime         *node         `json:"runtime"`
	RuntimeHistory  series        `json:"runtime_history,omitempty"`
	Reporters       []wireSection `json:"reporters"`
	Config          *node         `json:"config,omitempty"`
	Build           *node         `json:"build"`
}

type wireSection struct {
	Name    string `json:"name"`
	Report  *node  `json:"report,omitempty"`
	Error   string `json:"error,omitempty"`
	History series `json:"history,omitempty"`
}

// series maps a leaf's path to its samples, oldest first, null where the
// leaf was missing.
type series map[string][]*float64

// seriesOf returns the history of section. Callers hold a.mu.
func (a *Admin) seriesOf(section string) series {
	var out series
	for p := range a.hist.sections[section] {
		if out == nil {
			out = series{}
		}
		vals := a.hist.values(section, p)
		ptrs := make([]*float64, len(vals))
		for i := range vals {
			if !math.IsNaN(vals[i]) {
				ptrs[i] = &vals[i]
			}
		}
		out[p] = ptrs
	}
	return out
}

func (a *Admin) serveJSON(w http.ResponseWriter, r *http.Request) {
	s := a.snapshotFor(r.Context())
	ws := wireStatus{
		Title: a.title, Time: s.at, Started: a.started,
		IntervalSeconds: a.interval.Seconds(),
		Runtime:         s.runtime, Config: a.config, Build: a.buildTree,
		Reporters: make([]wireSection, 0, len(s.sections)),
	}
	if a.levelVar != nil {
		ws.LogLevel = a.levelVar.Level().String()
	}
	if s.health != nil {
		ws.Health = healthTree(*s.health)
	}
	a.mu.Lock()
	ws.RuntimeHistory = a.seriesOf(runtimeSeries)
	if ws.Health != nil {
		ws.HealthHistory = a.seriesOf(healthSeries)
	}
	for _, sec := range s.sections {
		ws.Reporters = append(ws.Reporters, wireSection{Name: sec.name, Report: sec.tree, Error: sec.err, History: a.seriesOf(sec.name)})
	}
	a.mu.Unlock()
	writeJSON(w, r, ws)
}

func (a *Admin) serveBuild(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, buildTree(a.build))
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil { // not reached: every value is a tree or a plain field
		problem.Write(w, r, problem.Internal("admin: encoding the response failed").Wrap(err))
		return
	}
	writeBody(w, r, "application/json", append(b, '\n'))
}

// writeBody writes a complete 200 response (headers only for HEAD).
func writeBody(w http.ResponseWriter, r *http.Request, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// css is the page's only style sheet; the CSP admits it by its hash, so the
// page needs no 'unsafe-inline'.
const css = `
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2330;--mute:#667085;--line:#e4e7ec;--acc:#2f6fde;--good:#12805c;--bad:#c4321c;--warn:#b76e00;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#11151c;--card:#1a2029;--ink:#e6e9ef;--mute:#98a2b3;--line:#2c3440;--acc:#6ea3ff;--good:#3ccf91;--bad:#ff7a66;--warn:#f5b544}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:.4rem 1.2rem;padding:.9rem 1.2rem;background:var(--card);border-bottom:1px solid var(--line)}
header h1{font-size:1.15rem;margin:0;word-break:break-all}
header .meta{color:var(--mute);font-size:.85rem}
nav{display:flex;flex-wrap:wrap;gap:.3rem .9rem;margin-left:auto;font-size:.85rem}
a{color:var(--acc);text-decoration:none}
a:hover{text-decoration:underline}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,380px),1fr));gap:1rem;padding:1rem 1.2rem;align-items:start}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.8rem 1rem;min-width:0;overflow-x:auto}
section.wide{grid-column:1/-1}
@media (min-width:900px){section.wide2{grid-column:span 2}}
h2{font-size:.95rem;margin:0 0 .5rem;display:flex;align-items:center;gap:.5rem}
h2 .tag{font-size:.75rem;font-weight:600;padding:.05rem .5rem;border-radius:99px;border:1px solid currentColor}
table{border-collapse:collapse;width:100%}
td,th{padding:.22rem .5rem .22rem 0;vertical-align:top;text-align:left;border-bottom:1px solid var(--line)}
tr:last-child>td{border-bottom:0}
th{font-weight:600;color:var(--mute);font-size:.8rem}
td.k{color:var(--mute);white-space:nowrap;width:1%;padding-right:1rem}
div.k{color:var(--mute);margin:.1rem 0 .1rem}
table.grid{margin-left:.1rem}
.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.val{display:flex;align-items:center;gap:.6rem;justify-content:space-between}
svg.spark{width:100px;height:20px;flex:none}
table.grid svg.spark{width:56px}
main{grid-auto-flow:dense}
svg.spark path{fill:none;stroke:var(--acc);stroke-width:1.5;stroke-linejoin:round;stroke-linecap:round;vector-effect:non-scaling-stroke}
.good{color:var(--good);font-weight:600}.bad{color:var(--bad);font-weight:600}.warn{color:var(--warn);font-weight:600}
.err{color:var(--bad);background:color-mix(in srgb,var(--bad) 10%,transparent);border-radius:6px;padding:.4rem .6rem;word-break:break-word}
.lit{color:var(--mute)}
.str{white-space:nowrap}.long{white-space:normal;overflow-wrap:break-word;display:inline-block;min-width:min(14rem,60vw)}
ul{margin:0;padding-left:1.1rem}
code{font-size:.8rem;background:var(--bg);padding:.1rem .3rem;border-radius:4px;word-break:break-all}
footer{color:var(--mute);font-size:.8rem;padding:0 1.2rem 1.2rem}
@media (max-width:520px){header,main{padding:.7rem}nav{margin-left:0}svg.spark{width:64px}}
`

// csp allows only the style sheet above and data: images (the favicon).
var csp = "default-src 'none'; style-src 'sha256-" + cssHash() + "'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func cssHash() string {
	sum := sha256.Sum256([]byte(css))
	return base64.StdEncoding.EncodeToString(sum[:])
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="{{.Refresh}}">
<link rel="icon" href="data:,">
<title>{{.Title}} · admin</title>
<style>` + css + `</style></head>
<body>
<header><h1>{{.Title}}</h1>
<span class="meta">updated <time datetime="{{.Now}}">{{.Now}}</time> · up {{.Uptime}}{{if .Level}} · log level <b id="loglevel">{{.Level}}</b>{{end}}</span>
<nav><a href="status.json">status.json</a><a href="healthz">healthz</a><a href="metrics">metrics</a><a href="debug/pprof/">pprof</a><a href="buildinfo">buildinfo</a></nav>
</header>
<main>
{{if .Health}}<section id="health" class="wide2"><h2>health {{with .Status}}<span class="tag {{if eq . "up"}}good{{else if eq . "down"}}bad{{else}}warn{{end}}">{{.}}</span>{{end}}</h2>{{template "v" .Health}}</section>{{end}}
{{range .Sections}}<section id="{{.ID}}" class="reporter{{if .Wide}} wide2{{end}}"><h2>{{.Name}}</h2>{{if .Err}}<div class="err">{{.Err}}</div>{{end}}{{with .Body}}{{template "v" .}}{{end}}</section>
{{end}}
<section id="runtime"><h2>runtime</h2>{{template "v" .Runtime}}</section>
<section id="build"><h2>build</h2>{{template "v" .Build}}</section>
{{with .Config}}<section id="config" class="wide"><h2>config</h2>{{template "v" .}}</section>{{end}}
</main>
<footer>Charts cover the last {{.Window}}. Refreshes every {{.Refresh}}s.{{if .Level}} Change the log level with <code>curl -X PUT -d '{"level":"debug"}' …/loglevel</code>.{{end}}</footer>
</body></html>
{{define "v"}}{{if eq .Kind "object"}}<table>{{range .Rows}}{{if eq .Val.Kind "table"}}<tr><td colspan="2"><div class="k">{{.Key}}</div>{{template "v" .Val}}</td></tr>{{else}}<tr><td class="k">{{.Key}}</td><td>{{template "v" .Val}}</td></tr>{{end}}{{end}}</table>
{{- else if eq .Kind "table"}}<table class="grid"><tr>{{range .Cols}}<th>{{.}}</th>{{end}}</tr>{{range .Cells}}<tr>{{range .}}<td>{{template "v" .}}</td>{{end}}</tr>{{end}}</table>
{{- else if eq .Kind "list"}}{{if .Items}}<ul>{{range .Items}}<li>{{template "v" .}}</li>{{end}}</ul>{{else}}<span class="lit">none</span>{{end}}
{{- else}}<span class="val"><span class="{{.Class}}"{{with .Hint}} title="{{.}}"{{end}}>{{.Text}}</span>{{with .Spark}}<svg class="spark" viewBox="0 0 100 20" preserveAspectRatio="none" role="img"><title>{{.Title}}</title><path d="{{.D}}"/></svg>{{end}}</span>{{end}}{{end}}`))
