package integration_test

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// docRow is one row of a table in docs/metrics.md.
type docRow struct {
	line     int
	semconv  bool     // from the semantic-convention table, recorded by otelhttp / otelgrpc / call
	packages []string // chassis packages the row names ("guard", "guard/redislimit")
	name     string
	kind     string
	unit     string
	attrs    []docAttr
	prom     string
}

// docAttr is a documented attribute key and, if the doc lists them, its
// only allowed values. An optional attribute (marked "(optional: ...)" in
// the doc) may be absent from a data point.
type docAttr struct {
	key      string
	values   []string
	optional bool
}

func (r docRow) keys() []string {
	keys := make([]string, len(r.attrs))
	for i, a := range r.attrs {
		keys[i] = a.key
	}
	return keys
}

// requiredKeys returns the keys every data point of the row carries.
func (r docRow) requiredKeys() []string {
	var keys []string
	for _, a := range r.attrs {
		if !a.optional {
			keys = append(keys, a.key)
		}
	}
	return keys
}

var (
	backticked = regexp.MustCompile("`([^`]*)`")
	parens     = regexp.MustCompile(`\([^)]*\)`)
)

// optionalMark replaces an "(optional: ...)" remark while an attribute
// cell is parsed.
const optionalMark = "\x00optional"

// parseMetricsDoc reads the instrument tables of docs/metrics.md: every
// Markdown table whose header has an "OTel name" column.
func parseMetricsDoc(t *testing.T, path string) []docRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("os.Open(%q) err = %v", path, err)
	}
	defer f.Close()

	var (
		rows    []docRow
		header  []string // columns of the table being read, nil outside one
		section string
		prev    []docAttr
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "## ") {
			section = strings.TrimPrefix(line, "## ")
		}
		if !strings.HasPrefix(line, "|") {
			header = nil
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case header == nil:
			header = cells
			continue
		case strings.HasPrefix(cells[0], "---"):
			continue
		}
		col := func(name string) string {
			for i, h := range header {
				if strings.EqualFold(h, name) && i < len(cells) {
					return cells[i]
				}
			}
			return ""
		}
		if col("OTel name") == "" {
			continue
		}
		attrCell := col("attributes")
		if attrCell == "" {
			attrCell = col("main attributes")
		}
		r := docRow{
			line:     n,
			semconv:  strings.Contains(strings.ToLower(section), "semantic"),
			packages: parsePackages(col("package")),
			name:     strings.Trim(col("OTel name"), "`"),
			kind:     strings.Trim(col("kind"), "`"),
			unit:     strings.Trim(col("unit"), "`"),
			attrs:    parseAttrs(attrCell, prev),
			prom:     strings.Trim(col("Prometheus name"), "`"),
		}
		prev = r.attrs
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	if len(rows) == 0 {
		t.Fatalf("parseMetricsDoc(%q) found no instrument table", path)
	}
	return rows
}

// parsePackages turns "guard (ipfilter, maxbody)" into ["guard"] and
// "guard (rate limit), grpckit" into ["guard", "grpckit"].
func parsePackages(cell string) []string {
	var pkgs []string
	for part := range strings.SplitSeq(parens.ReplaceAllString(cell, ""), ",") {
		if f := strings.Fields(part); len(f) > 0 {
			pkgs = append(pkgs, strings.Trim(f[0], "`"))
		}
	}
	return pkgs
}

// parseAttrs reads an attribute cell such as
//
//	`chassis.decision` = `allowed` / `denied`; `chassis.limiter` = `memory`
//	`http.request.method`, `network.protocol.name` / `.version`, `error.type`
//	as above, plus `server.address` and `server.port`
//	none
//
// Parenthesised remarks are ignored, except that a remark starting with
// "optional" marks the attributes of its segment optional; "as above"
// starts from prev.
func parseAttrs(cell string, prev []docAttr) []docAttr {
	cell = parens.ReplaceAllStringFunc(cell, func(remark string) string {
		if strings.HasPrefix(strings.ToLower(strings.TrimPrefix(remark, "(")), "optional") {
			return optionalMark
		}
		return ""
	})
	var attrs []docAttr
	if strings.HasPrefix(strings.ToLower(cell), "as above") {
		attrs = append(attrs, prev...)
		cell = strings.TrimPrefix(cell[len("as above"):], ",")
	}
	for seg := range strings.FieldsFuncSeq(cell, func(r rune) bool { return r == ';' || r == ',' }) {
		optional := strings.Contains(seg, optionalMark)
		key, values, hasEq := strings.Cut(seg, "=")
		if hasEq {
			k := backticked.FindStringSubmatch(key)
			if k == nil {
				continue
			}
			a := docAttr{key: k[1], optional: optional}
			for _, v := range backticked.FindAllStringSubmatch(values, -1) {
				a.values = append(a.values, v[1])
			}
			attrs = append(attrs, a)
			continue
		}
		last := ""
		for _, k := range backticked.FindAllStringSubmatch(seg, -1) {
			key := k[1]
			if strings.HasPrefix(key, ".") && last != "" {
				// `network.protocol.name` / `.version`
				key = last[:strings.LastIndexByte(last, '.')] + key
			}
			attrs = append(attrs, docAttr{key: key, optional: optional})
			last = key
		}
	}
	return attrs
}

func TestParseAttrs(t *testing.T) {
	prev := []docAttr{{key: "a.b"}}
	cases := []struct {
		cell string
		want string
	}{
		{"none", ""},
		{"", ""},
		{"`chassis.decision` = `allowed` / `denied`; `chassis.limiter` = `memory`", "chassis.decision=allowed/denied chassis.limiter=memory"},
		{"`http.request.method` (known methods, otherwise `_OTHER`)", "http.request.method"},
		{"`chassis.check` (the check's name, bounded); `chassis.check.status` = `up` / `down`", "chassis.check chassis.check.status=up/down"},
		{"`http.route` (from `Request.Pattern`), `network.protocol.name` / `.version`", "http.route network.protocol.name network.protocol.version"},
		{"as above, plus `server.address` and `server.port`", "a.b server.address server.port"},
		{"`k` (a name); `v` (optional: when set, or not); `e` = `x` / `y` (optional: on errors)", "k v? e=x/y?"},
		{"`a` (not optional)", "a"},
	}
	for _, tc := range cases {
		var got []string
		for _, a := range parseAttrs(tc.cell, prev) {
			s := a.key
			if len(a.values) > 0 {
				s += "=" + strings.Join(a.values, "/")
			}
			if a.optional {
				s += "?"
			}
			got = append(got, s)
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("parseAttrs(%q) = %q; want %q", tc.cell, g, tc.want)
		}
	}
}
