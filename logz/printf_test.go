package logz_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/logz"
)

// printfLogger is the interface go-redis's SetLogger takes, restated so the
// test needs no Redis dependency.
type printfLogger interface {
	Printf(ctx context.Context, format string, v ...any)
}

func TestPrintf(t *testing.T) {
	var buf bytes.Buffer
	var p printfLogger = logz.NewPrintf(logz.New(&buf, nil), slog.LevelWarn, "go-redis")
	p.Printf(context.Background(), "redis: dial %s: %v", "127.0.0.1:1", "refused")
	line := buf.String()
	for _, want := range []string{`"level":"WARN"`, `"msg":"redis: dial 127.0.0.1:1: refused"`, `"source":"go-redis"`} {
		if !strings.Contains(line, want) {
			t.Errorf("line %s lacks %s", line, want)
		}
	}
	buf.Reset()
	logz.NewPrintf(logz.New(&buf, nil), slog.LevelDebug, "").Printf(context.Background(), "hidden")
	if buf.Len() != 0 {
		t.Errorf("a record below the logger's level was written: %s", buf.String())
	}
	var zero *logz.Printf
	zero.Printf(context.Background(), "dropped") // must not panic
}
