package lifecycle

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
)

// fakeExit records os.Exit calls instead of exiting.
type fakeExit struct {
	codes chan int
}

func newFakeExit() *fakeExit      { return &fakeExit{codes: make(chan int, 10)} }
func (f *fakeExit) exit(code int) { f.codes <- code }
func (f *fakeExit) calls() int    { return len(f.codes) }
func (f *fakeExit) hooks(s chan os.Signal) runHooks {
	return runHooks{signals: s, exit: f.exit}
}

func TestRun_signalStartsCleanShutdown(t *testing.T) {
	t.Parallel()
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			sigs := make(chan os.Signal, 1)
			fe := newFakeExit()
			var cause atomic.Value
			started := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- run(context.Background(), fe.hooks(sigs), DefaultGrace, []Component{
					func(ctx context.Context) error {
						close(started)
						<-ctx.Done()
						cause.Store(context.Cause(ctx))
						return ctx.Err()
					},
				})
			}()
			<-started
			sigs <- sig
			if err := <-done; err != nil {
				t.Errorf("run() after %v = %v; want nil", sig, err)
			}
			if fe.calls() != 0 {
				t.Errorf("exit called %d times after one signal; want 0", fe.calls())
			}
			want := "lifecycle: received signal " + sig.String()
			if got, _ := cause.Load().(error); got == nil || got.Error() != want {
				t.Errorf("context.Cause = %v; want %s", got, want)
			}
		})
	}
}

func TestRun_secondSignalExits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// start begins the shutdown; the signals sent afterwards are counted
		// from there.
		failFirst   bool
		wantExitsAt int // index of the signal (1-based) that must exit
	}{
		{name: "signal then signal", failFirst: false, wantExitsAt: 2},
		{name: "failure then two signals", failFirst: true, wantExitsAt: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sigs := make(chan os.Signal) // unbuffered: a send returns once run received it
			fe := newFakeExit()
			stopping := make(chan struct{})
			release := make(chan struct{})
			fail := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- run(context.Background(), fe.hooks(sigs), DefaultGrace, []Component{
					func(ctx context.Context) error { // stuck in its shutdown
						<-ctx.Done()
						close(stopping)
						<-release
						return nil
					},
					func(ctx context.Context) error {
						select {
						case <-fail:
							return errors.New("broken")
						case <-ctx.Done():
							return nil
						}
					},
				})
			}()
			if tc.failFirst {
				close(fail)
			} else {
				sigs <- syscall.SIGTERM
			}
			<-stopping
			for i := 1; i <= tc.wantExitsAt-boolInt(!tc.failFirst); i++ {
				sigs <- syscall.SIGTERM
			}
			// run has received every signal; the last one calls exit.
			if code := <-fe.codes; code != 1 {
				t.Errorf("exit(%d); want exit(1)", code)
			}
			close(release)
			err := <-done
			if got := fe.calls(); got != 0 {
				t.Errorf("exit calls = %d; want 1", got+1)
			}
			if (err != nil) != tc.failFirst {
				t.Errorf("run() = %v; want error %v", err, tc.failFirst)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
