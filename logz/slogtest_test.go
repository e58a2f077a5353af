package logz_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"testing/slogtest"

	"github.com/chassis-go/chassis/logz"
)

// TestSlogtest runs the standard handler conformance tests on Handler, with
// and without a span in the context. With a span, every record must carry
// the ids at the top level; they are checked and removed before slogtest
// looks at the record.
func TestSlogtest(t *testing.T) {
	for _, withSpan := range []bool{false, true} {
		name := "no span"
		if withSpan {
			name = "span"
		}
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			slogtest.Run(t, func(*testing.T) slog.Handler {
				buf.Reset()
				var h slog.Handler = logz.NewHandler(slog.NewJSONHandler(&buf, nil))
				if withSpan {
					h = withCtx{h, spanCtx()}
				}
				return h
			}, func(t *testing.T) map[string]any {
				var m map[string]any
				if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
					t.Fatalf("bad JSON %q: %v", buf.String(), err)
				}
				if withSpan {
					if m["trace_id"] != wantTrace || m["span_id"] != wantSpan {
						t.Errorf("record %s lacks top-level trace_id/span_id", buf.String())
					}
					delete(m, "trace_id")
					delete(m, "span_id")
				}
				return m
			})
		})
	}
}

// TestHandleAfterCancel checks the slog.Handler contract that a canceled
// context does not stop a record.
func TestHandleAfterCancel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := slog.New(logz.NewHandler(slog.NewJSONHandler(&buf, nil)))
	ctx, cancel := context.WithCancel(spanCtx())
	cancel()
	l.InfoContext(ctx, "after cancel")
	if buf.Len() == 0 {
		t.Error("Handle dropped a record because its context was canceled")
	}
}
