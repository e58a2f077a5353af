package testkit_test

import "runtime"

// waitABit yields so that a polled condition can make progress. It does not
// sleep: tests never rely on time passing.
func waitABit() { runtime.Gosched() }
