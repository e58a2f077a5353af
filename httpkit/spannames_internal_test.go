package httpkit

import (
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
)

// TestSpanNamesCache: cached names equal spanName's, a client's own methods
// share the "HTTP" entry, and the cache stops growing at maxSpanNames while
// still naming spans correctly.
func TestSpanNamesCache(t *testing.T) {
	t.Parallel()
	var c spanNames
	for _, tc := range []struct{ method, route string }{
		{"GET", "/users/{id}"}, {"GET", ""}, {"BREW", "/pot"}, {"FOO", "/pot"}, {"POST", "/users"},
	} {
		for range 2 { // uncached, then cached
			n := c.get(tc.method, tc.route)
			if want := spanName(tc.method, tc.route); n.name != want {
				t.Errorf("get(%q, %q).name = %q; want %q", tc.method, tc.route, n.name, want)
			}
			if tc.route == "" && len(n.attrs) != 0 {
				t.Errorf("get(%q, \"\").attrs = %v; want none", tc.method, n.attrs)
			}
			if tc.route != "" && (len(n.attrs) != 1 || n.attrs[0] != attribute.String("http.route", tc.route)) {
				t.Errorf("get(%q, %q).attrs = %v; want http.route", tc.method, tc.route, n.attrs)
			}
		}
	}
	if got := len(*c.m.Load()); got != 4 {
		t.Errorf("%d entries; want 4 (BREW and FOO share HTTP /pot)", got)
	}
	for i := range 2 * maxSpanNames {
		rt := "/r" + strconv.Itoa(i)
		if n := c.get("GET", rt); n.name != "GET "+rt {
			t.Fatalf("name %q; want %q", n.name, "GET "+rt)
		}
	}
	if got := len(*c.m.Load()); got != maxSpanNames {
		t.Errorf("%d entries; want the bound %d", got, maxSpanNames)
	}
}
