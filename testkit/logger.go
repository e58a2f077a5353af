package testkit

import (
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Logger returns a logger that writes each record, in the text format and at
// every level from debug up, as one t.Log line, so that it shows only for
// failing tests or with go test -v. The time is left out (t.Log lines are
// already in order); the calling file and line are kept as source=file:line.
//
// The logger is safe for concurrent use. Records logged after the test's
// cleanup has run (by a goroutine that outlives the test, for example) are
// dropped instead of making the test binary panic.
func Logger(t testing.TB) *slog.Logger {
	w := &tbWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		AddSource:   true,
		Level:       slog.LevelDebug,
		ReplaceAttr: shortSource,
	}))
}

func shortSource(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.Attr{}
	case slog.SourceKey:
		if s, ok := a.Value.Any().(*slog.Source); ok && s != nil {
			return slog.String(slog.SourceKey, filepath.Base(s.File)+":"+strconv.Itoa(s.Line))
		}
	}
	return a
}

// tbWriter passes each write to t.Log until the test is cleaned up.
type tbWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tbWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
