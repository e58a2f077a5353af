package testkit_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(lateLogEnv) == "1" {
		// Child of TestLoggerRealT: log through the logger of a test that
		// has completed, with no parent left to take the line.
		code := m.Run()
		select {
		case l := <-lateLogger:
			l.Info("late") // testing panics here if the logger calls t.Log
			fmt.Println("logged after the test returned")
		default:
			fmt.Println("TestLoggerRealT did not run")
			code = 1
		}
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}
