//go:build race

package main_test

// raceEnabled makes the service binary built by the test match the test's own
// build, so that the build reuses the compiled packages.
const raceEnabled = true
