package testkit_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/chassis-go/chassis/testkit"
)

// fakeTB records Log calls and Cleanup functions; everything else goes to
// the real test.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	lines    []string
	cleanups []func()
}

func (f *fakeTB) Log(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range args {
		f.lines = append(f.lines, a.(string))
	}
}

func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func (f *fakeTB) logged() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lines...)
}

func TestLogger(t *testing.T) {
	t.Parallel()
	ft := &fakeTB{TB: t}
	l := testkit.Logger(ft)
	_, _, line, _ := runtime.Caller(0)
	l.Debug("debug shown", "k", 1)
	l.With("svc", "x").Info("info shown")
	got := ft.logged()
	want := []string{
		fmt.Sprintf("level=DEBUG source=logger_test.go:%d msg=\"debug shown\" k=1", line+1),
		fmt.Sprintf("level=INFO source=logger_test.go:%d msg=\"info shown\" svc=x", line+2),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Logger lines =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	ft.runCleanups()
	l.Info("after cleanup") // must not reach t.Log
	if n := len(ft.logged()); n != 2 {
		t.Errorf("after cleanup, %d lines logged; want 2", n)
	}
}

func TestLoggerConcurrent(t *testing.T) {
	t.Parallel()
	ft := &fakeTB{TB: t}
	l := testkit.Logger(ft)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				l.Info("m", "g", i)
			}
		})
	}
	// Cleanup races with the writers: records are either logged whole or dropped.
	ft.runCleanups()
	wg.Wait()
	for _, line := range ft.logged() {
		if !strings.HasPrefix(line, "level=INFO") || strings.Contains(line, "\n") {
			t.Errorf("logged line %q; want one whole record", line)
		}
	}
}

func TestLoggerRealT(t *testing.T) {
	t.Parallel()
	testkit.Logger(t).Info("through the real t.Log", "ok", true)
}
