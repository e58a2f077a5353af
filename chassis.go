// Package chassis is a composable toolkit for production Go services: the
// foundation every microservice re-implements (configuration, logging,
// lifecycle, HTTP and gRPC plumbing, health, telemetry) and the resilience
// layer that keeps it alive under load and faults (rate limits, timeouts,
// retries, circuit breakers, bounded concurrency).
//
// chassis is a toolkit, not a framework: it never owns main, never hides
// wiring, and each package is importable on its own. This root package holds
// only [Version]; the work is done by its packages:
//
//   - problem: errors that carry an HTTP status and a canonical code, written
//     as RFC 9457 problem+json.
//   - config: environment variables into a typed, validated struct, with
//     secrets redacted.
//   - logz: log/slog set up with trace correlation and secret redaction.
//   - guard: server-side protection middleware: rate limits, timeouts, body
//     limits, CORS, security headers, IP filters.
//   - guard/redislimit: rate limits shared by every replica, on Redis.
//   - call: a resilient outbound HTTP client (retries, retry budget,
//     per-host circuit breakers, token injection).
//   - work: structured concurrency that never leaks: Map, All, Race, Stream.
//   - health: named checks and /livez and /readyz handlers.
//   - httpkit: request ids, access logs, panic recovery, tracing, safe
//     servers, JSON helpers.
//   - lifecycle: run components, handle signals, drain gracefully.
//   - telemetry: OpenTelemetry bootstrap from the standard OTEL_* variables,
//     and a Prometheus /metrics handler.
//   - grpckit: the same guarantees for gRPC servers.
//   - secval: hardening of untrusted JSON.
//   - testkit: helpers for testing services built on chassis.
//
// The reference service in examples/service wires every package together;
// run it with
//
//	go run ./examples/service
package chassis

// Version is the version of the chassis module.
const Version = "0.1.0"
