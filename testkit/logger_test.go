package testkit_test

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
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

// TestLoggerConcurrent checks that concurrent writers' records all arrive,
// each whole on one line.
func TestLoggerConcurrent(t *testing.T) {
	t.Parallel()
	const writers, each = 8, 50
	ft := &fakeTB{TB: t}
	l := testkit.Logger(ft)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for j := range each {
				l.Info("m", "g", i, "j", j)
			}
		})
	}
	wg.Wait()
	seen := make(map[string]bool)
	for _, line := range ft.logged() {
		var g, j int
		k := strings.Index(line, " msg=m ")
		if !strings.HasPrefix(line, "level=INFO source=logger_test.go:") || k < 0 {
			t.Errorf("logged line %q; want one whole record", line)
			continue
		}
		if n, err := fmt.Sscanf(line[k:], " msg=m g=%d j=%d", &g, &j); n != 2 || err != nil || strings.Contains(line, "\n") {
			t.Errorf("logged line %q; want one whole record (%v)", line, err)
			continue
		}
		key := fmt.Sprint(g, "/", j)
		if seen[key] {
			t.Errorf("record %s logged twice", key)
		}
		seen[key] = true
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct records logged; want %d (every writer's every line)", len(seen), writers*each)
	}
}

// TestLoggerCleanupRace checks that records racing with the test's cleanup
// are either logged whole or dropped, and that none reach t.Log once the
// cleanup has returned.
func TestLoggerCleanupRace(t *testing.T) {
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
	ft.runCleanups()
	n := len(ft.logged())
	wg.Wait()
	if after := len(ft.logged()); after != n {
		t.Errorf("%d records reached t.Log after the cleanup returned; want 0", after-n)
	}
	for _, line := range ft.logged() {
		if !strings.HasPrefix(line, "level=INFO") || strings.Contains(line, "\n") {
			t.Errorf("logged line %q; want one whole record", line)
		}
	}
}

// lateLogEnv makes the test binary a child of TestLoggerRealT; see there.
const lateLogEnv = "CHASSIS_TESTKIT_LATE_LOG"

// lateLogger carries, in the child process only, the logger of the finished
// TestLoggerRealT to TestMain.
var lateLogger = make(chan *slog.Logger, 1)

// TestLoggerRealT checks, with a real *testing.T, that logging after the
// test returned does not panic. testing panics on t.Log only once the test
// and all its parents have completed, which no test can observe of itself,
// so the test reruns this binary: the child runs only this test, which
// logs through a real t and hands the logger to TestMain; TestMain logs
// again after every test has completed and exits 0 only if that did not
// panic.
func TestLoggerRealT(t *testing.T) {
	l := testkit.Logger(t)
	l.Info("through the real t.Log", "ok", true)
	if os.Getenv(lateLogEnv) == "1" {
		lateLogger <- l
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoggerRealT$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), lateLogEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "logged after the test returned") {
		t.Errorf("child test binary: %v\n%s\nwant exit 0 after logging late", err, out)
	}
}
