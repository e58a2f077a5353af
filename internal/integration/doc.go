// Package integration holds tests that span chassis packages.
//
// It has no code of its own: its tests check that the packages keep their
// documented promises when they are composed, as a service composes them.
// Trace context flows from call through httpkit, every instrument of
// docs/metrics.md is recorded with its documented unit and attributes,
// httpkit and guard middleware stack in any order, cancellation crosses
// work, call and the server, and lifecycle drains an httpkit server while
// health reports it unready.
package integration
