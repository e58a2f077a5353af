package httpkit_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/httpkit"
)

func tag(name string, order *[]string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*order = append(*order, name+">")
			next.ServeHTTP(w, r)
			*order = append(*order, "<"+name)
		})
	}
}

func TestChainOrder(t *testing.T) {
	t.Parallel()
	var order []string
	mws := []func(http.Handler) http.Handler{tag("a", &order), tag("b", &order), tag("c", &order)}
	chain := httpkit.Chain(mws...)
	mws[0] = tag("x", &order) // Chain copied the slice
	h := chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { order = append(order, "h") }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got, want := strings.Join(order, " "), "a> b> c> h <c <b <a"; got != want {
		t.Errorf("Chain(a, b, c)(h) ran %q; want %q", got, want)
	}
}

func TestChainEmpty(t *testing.T) {
	t.Parallel()
	h := http.NotFoundHandler()
	if got := httpkit.Chain()(h); got == nil {
		t.Fatal("Chain()(h) = nil")
	}
	rec := httptest.NewRecorder()
	httpkit.Chain()(h).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("Chain()(NotFound) status = %d; want 404", rec.Code)
	}
}

func TestConstructorPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fn     func()
		prefix string
	}{
		{"Chain nil", func() { httpkit.Chain(httpkit.RequestID, nil) }, "httpkit.Chain: middleware 1 is nil"},
		{"RequestID nil", func() { httpkit.RequestID(nil) }, "httpkit.RequestID: next is nil"},
		{"Logging nil", func() { httpkit.Logging(nil) }, "httpkit.Logging: logger is nil"},
		{"Recovery nil", func() { httpkit.Recovery(nil) }, "httpkit.Recovery: logger is nil"},
		{"NewServer nil", func() { httpkit.NewServer(":0", nil) }, "httpkit.NewServer: handler is nil"},
		{"WithMaxConns zero", func() { httpkit.WithMaxConns(0) }, "httpkit.WithMaxConns: n must be at least 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, tc.prefix) {
					t.Errorf("panic = %q; want prefix %q", msg, tc.prefix)
				}
			}()
			tc.fn()
		})
	}
}
