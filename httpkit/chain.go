package httpkit

import (
	"fmt"
	"net/http"
	"slices"
)

// Chain composes middleware in reading order: Chain(a, b, c)(h) is
// a(b(c(h))), so a request passes through a first and h last, and the
// response passes back through c first.
//
// The package documentation gives the recommended order, with its reasons.
//
// Chain with no middleware returns its handler unchanged. Chain copies mw,
// so changing the slice afterwards has no effect. Panics if any element of
// mw is nil.
func Chain(mw ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	mw = slices.Clone(mw)
	for i, m := range mw {
		if m == nil {
			panic(fmt.Sprintf("httpkit.Chain: middleware %d is nil; remove it or pass a middleware", i))
		}
	}
	return func(h http.Handler) http.Handler {
		for i := len(mw) - 1; i >= 0; i-- {
			h = mw[i](h)
		}
		return h
	}
}
