package httpkit_test

import (
	"context"
	"go.opentelemetry.io/otel/trace"
	"log/slog"
	"sync"
)

// captured is one log record with its attributes flattened to values.
type captured struct {
	level slog.Level
	msg   string
	attrs map[string]slog.Value
	span  trace.SpanContext // of the context the record was logged with
}

// capture is a slog.Handler that keeps every record, for assertions.
type capture struct {
	mu      sync.Mutex
	records []captured
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }

func (c *capture) Handle(ctx context.Context, r slog.Record) error {
	rec := captured{level: r.Level, msg: r.Message, attrs: map[string]slog.Value{}, span: trace.SpanContextFromContext(ctx)}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, rec)
	return nil
}

func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }

func (c *capture) all() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.records...)
}
