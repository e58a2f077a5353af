package health

import (
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/chassis-go/chassis/internal/panicval"
	"github.com/chassis-go/chassis/problem"
)

// hiddenError replaces error texts unless ShowErrors is given.
const hiddenError = "check failed"

// HandlerOption configures [Checker.ReadyHandler]. A nil HandlerOption is
// ignored.
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	showErrors bool
}

// ShowErrors makes [Checker.ReadyHandler] write each failed check's error
// text instead of "check failed". Error texts often name hosts, ports and
// database addresses, so give this option only to a handler that untrusted
// clients cannot reach, such as one on an authenticated admin listener. The
// text is bounded to about 1 KiB per check (a panicking check's value is
// bounded the same way), so even a check that fails with a huge error
// cannot produce a huge response.
func ShowErrors() HandlerOption {
	return func(hc *handlerConfig) { hc.showErrors = true }
}

// liveBody is the liveness response body.
const liveBody = `{"status":"up"}` + "\n"

// wireReport is the JSON form of a Report written by ReadyHandler.
type wireReport struct {
	Status   Status      `json:"status"`
	Draining bool        `json:"draining,omitempty"`
	Checks   []wireCheck `json:"checks"`
}

// wireCheck is the JSON form of a CheckResult.
type wireCheck struct {
	Name       string  `json:"name"`
	Status     Status  `json:"status"`
	Critical   bool    `json:"critical"`
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// LiveHandler returns the liveness handler (usually mounted at /livez). It
// answers GET and HEAD with 200 and the body {"status":"up"} as long as the
// process can serve HTTP at all: it runs no checks and stays up while the
// Checker is draining, so an orchestrator restarts the process only when it
// is wedged, never because a dependency is down. Other methods get a 405
// problem response.
func (c *Checker) LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(w, r) {
			return
		}
		writeJSON(w, http.StatusOK, []byte(liveBody))
	})
}

// ReadyHandler returns the readiness handler (usually mounted at /readyz).
// It answers GET and HEAD by calling [Checker.Run] with the request's
// context and writing the Report as JSON, with status 200 when the Report is
// up and 503 otherwise (a critical check down, the Checker draining, or the
// client gone before the run finished). Other methods get a 405 problem
// response. The body looks like
//
//	{"status":"up","checks":[
//	  {"name":"cache","status":"down","critical":false,"error":"health: check timed out after 2s: context deadline exceeded","duration_ms":2000.125},
//	  {"name":"postgres","status":"up","critical":true,"duration_ms":1.5}]}
//
// with checks sorted by name, "status" one of "up", "down" or "unknown",
// "draining":true added while draining (and "checks" then empty), "error"
// omitted for checks that are up, and "duration_ms" in milliseconds with
// microsecond precision. A non-critical check that is down leaves the
// response at 200 with an overall "up". Responses carry Cache-Control:
// no-store.
//
// By default "error" is "check failed" for every failed check, because a
// readiness endpoint is usually reachable without authentication and error
// texts name internal addresses. With [ShowErrors] it is the error's text,
// as above; [Checker.Run] always returns the errors themselves.
func (c *Checker) ReadyHandler(opts ...HandlerOption) http.Handler {
	var hc handlerConfig
	for _, o := range opts {
		if o != nil {
			o(&hc)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(w, r) {
			return
		}
		rep := c.Run(r.Context())
		wr := wireReport{Status: rep.Status, Draining: rep.Draining, Checks: make([]wireCheck, len(rep.Checks))}
		for i, cr := range rep.Checks {
			wc := wireCheck{Name: cr.Name, Status: cr.Status, Critical: cr.Critical, DurationMS: millis(cr.Duration)}
			if cr.Err != nil {
				wc.Error = hiddenError
				if hc.showErrors {
					// Bounded, and safe from an Error method that panics.
					wc.Error = panicval.String(cr.Err)
				}
			}
			wr.Checks[i] = wc
		}
		body, err := json.Marshal(wr)
		if err != nil { // cannot happen: every field is a plain value
			problem.Write(w, r, err)
			return
		}
		code := http.StatusOK
		if rep.Status != StatusUp {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, append(body, '\n'))
	})
}

// allowed answers methods other than GET and HEAD with 405 and reports
// whether the request may proceed.
func allowed(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	problem.Write(w, r, problem.New(http.StatusMethodNotAllowed, "health endpoints accept GET and HEAD only"))
	return false
}

// writeJSON writes a JSON body that must never be cached.
func writeJSON(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// millis converts d to milliseconds rounded to the microsecond.
func millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}
