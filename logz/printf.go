package logz

import (
	"context"
	"fmt"
	"log/slog"
)

// Printf adapts a *slog.Logger to libraries that log through a method
// Printf(ctx, format, args...), such as go-redis (redis.SetLogger), so that
// their lines reach the service's structured log instead of plain text on
// stderr:
//
//	redis.SetLogger(logz.NewPrintf(logger, slog.LevelWarn))
//
// Each call logs one record at the adapter's level, with the formatted text
// as the message and the attribute source=name (when a name was given). The
// zero Printf logs to slog.Default() at Info; a nil *Printf drops
// everything. It is safe for concurrent use.
type Printf struct {
	logger *slog.Logger
	level  slog.Level
	attrs  []slog.Attr
}

// NewPrintf returns a Printf that logs to logger at level, naming the
// source (for example "go-redis") when source is not empty. A nil logger
// means slog.Default() at the time of each call.
func NewPrintf(logger *slog.Logger, level slog.Level, source string) *Printf {
	p := &Printf{logger: logger, level: level}
	if source != "" {
		p.attrs = []slog.Attr{slog.String("source", source)}
	}
	return p
}

// Printf logs format and v, formatted as fmt.Sprintf does, with ctx (so a
// correlating handler adds the trace and span ids).
func (p *Printf) Printf(ctx context.Context, format string, v ...any) {
	if p == nil {
		return
	}
	l := p.logger
	if l == nil {
		l = slog.Default()
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if !l.Enabled(ctx, p.level) {
		return
	}
	l.LogAttrs(ctx, p.level, fmt.Sprintf(format, v...), p.attrs...)
}
