// Package httpkit provides the HTTP server plumbing every chassis service
// needs: middleware for request ids, access logs, panic recovery and
// OpenTelemetry tracing, an *http.Server with safe timeouts, and JSON
// request and response helpers that turn bad input into RFC 9457 problem
// responses.
//
// Most services build their server like this:
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("POST /users", createUser)
//
//	mw := httpkit.Chain(
//		httpkit.RequestID,
//		httpkit.Tracing(),
//		httpkit.Logging(logger),
//		guard.SecurityHeaders(guard.DefaultSecurityHeaders()),
//		guard.RateLimit(rateLimitConfig),
//		guard.Shed(shedConfig),
//		guard.MaxBody(1<<20),
//		guard.Timeout(5*time.Second),
//		httpkit.Recovery(logger),
//	)
//	srv := httpkit.NewServer(":8080", mw(mux))
//
// and write handlers with [DecodeJSON] and [WriteJSON]:
//
//	func createUser(w http.ResponseWriter, r *http.Request) {
//		var in struct{ Name string `json:"name"` }
//		if err := httpkit.DecodeJSON(w, r, &in, httpkit.DisallowUnknownFields()); err != nil {
//			problem.Write(w, r, err) // 400, 413 or 415 naming the problem
//			return
//		}
//		...
//		_ = httpkit.WriteJSON(w, r, http.StatusCreated, user)
//	}
//
// # Middleware order
//
// This is the one place chassis states the order; every example and the
// README follow it. [Chain] composes in reading order, outermost first:
//
//  1. RequestID first, so every log line and problem response carries the
//     id, including the guards' 429, 413 and 504 answers.
//  2. Tracing, then Logging inside it, so the access-log line carries the
//     trace and span ids and both see the final status and the route.
//  3. The guard middleware: IPFilter and SecurityHeaders outside the
//     others, so their error answers carry the headers too; CORS before
//     RateLimit, so preflights are answered without spending quota;
//     RateLimit before Shed, so a client over its own quota takes no unit
//     of the shared concurrency limit; Shed before MaxBody and Timeout, so
//     a shed request costs no body read and no timer.
//  4. Recovery innermost, next to the mux: a panic becomes a 500 problem
//     that Logging and Tracing record with its real status, that a timeout
//     middleware such as guard.Timeout is still waiting for, and the route
//     the mux matched reaches the outer middleware (see Routes). A panic in
//     a middleware outside Recovery is still caught by net/http, which
//     logs it to the server's ErrorLog and closes the connection; chassis
//     middleware do not panic on requests.
//
// # Routes
//
// Logging and Tracing report the ServeMux pattern that matched (for
// example "/users/{id}"), never the raw path, as the route. The mux sets
// Request.Pattern on the request it receives, after these middleware
// passed it on; they read it once next returns, and share it through the
// request context, so every one of them sees it as long as one sits
// directly outside the mux (Recovery, in the recommended order). With nested
// muxes (a root mux whose "/" leads to an API mux) the innermost pattern
// wins, so the route is "/users/{id}", not "/".
//
// # Response writers
//
// Every wrapper this package puts around the http.ResponseWriter keeps
// http.Flusher, http.Hijacker, io.ReaderFrom and Unwrap, so
// http.ResponseController, server-sent events and WebSockets work behind
// the whole chain.
//
// # What is never recorded
//
// Query strings, request headers and bodies appear in no log line, span
// attribute or metric: they carry tokens and personal data.
package httpkit
