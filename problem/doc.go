// Package problem provides the error type that chassis services return to
// clients, over HTTP as RFC 9457 "application/problem+json" and over gRPC as a
// status with a canonical code.
//
// Handlers return a *Error (or any error wrapping one) and call [Write]:
//
//	func getNote(w http.ResponseWriter, r *http.Request) {
//		note, err := store.Get(r.Context(), r.PathValue("id"))
//		if errors.Is(err, errNoSuchNote) {
//			problem.Write(w, r, problem.NotFound("no note with that id"))
//			return
//		}
//		if err != nil {
//			problem.Write(w, r, err) // 500, nothing of err reaches the client
//			return
//		}
//		...
//	}
//
// # Mapping errors
//
// [From] turns any error into a *Error: the nearest *Error in the chain wins
// (so fmt.Errorf("load: %w", problem.NotFound("...")) is still a 404); a
// context deadline becomes 504; a cancelled context becomes 499 Client Closed
// Request (the status nginx uses, logged but usually unread because the client
// has gone); an [net/http.MaxBytesError] becomes 413; anything else becomes a
// 500 whose body says nothing of the internal error, which stays reachable
// through Unwrap for logging.
//
// # Immutability
//
// A *Error is a value: the With methods return modified copies and never
// change the receiver, so package-level errors such as
//
//	var errQuota = problem.TooManyRequests("quota exceeded")
//
// can be shared by concurrent requests and decorated per request with
// errQuota.With("quota", 100).
//
// # Codes
//
// Every Error carries a gRPC-style canonical [Code] so that the same error can
// cross gRPC (see grpckit) without this package importing gRPC. A zero Code
// is derived from the HTTP status.
package problem
