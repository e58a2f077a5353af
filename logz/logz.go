package logz

import (
	"io"
	"log/slog"
	"os"
)

// Option configures [New].
type Option func(*options)

type options struct {
	w          io.Writer
	text       bool
	source     bool
	redactKeys []string
	levelVar   *slog.LevelVar
	replace    func(groups []string, a slog.Attr) slog.Attr
}

// WithWriter sets where records are written; the default is os.Stderr. The
// logger serializes its writes to w. Panics if w is nil.
func WithWriter(w io.Writer) Option {
	if w == nil {
		panic("logz.WithWriter: w is nil; pass io.Discard to drop the output")
	}
	return func(o *options) { o.w = w }
}

// WithText selects the logfmt-like format of [slog.TextHandler] instead of
// the default JSON of [slog.JSONHandler].
func WithText() Option {
	return func(o *options) { o.text = true }
}

// WithSource adds the caller's file and line to each record (the "source"
// key), as [slog.HandlerOptions.AddSource] does.
func WithSource() Option {
	return func(o *options) { o.source = true }
}

// WithRedactKeys adds words to [DefaultRedactKeys]; see [NewHandler] for how
// keys are matched. Several WithRedactKeys options add up.
func WithRedactKeys(keys ...string) Option {
	keys = append([]string(nil), keys...)
	return func(o *options) { o.redactKeys = append(o.redactKeys, keys...) }
}

// WithLevelVar makes the logger read its minimum level from v, so that the
// service can change it at run time with v.Set, from any goroutine. New sets
// v to the level it was given. Without this option the level is fixed.
// Panics if v is nil.
func WithLevelVar(v *slog.LevelVar) Option {
	if v == nil {
		panic("logz.WithLevelVar: v is nil; pass new(slog.LevelVar)")
	}
	return func(o *options) { o.levelVar = v }
}

// WithReplaceAttr sets [slog.HandlerOptions.ReplaceAttr] of the underlying
// handler. It sees attributes after redaction, trace_id and span_id included.
func WithReplaceAttr(fn func(groups []string, a slog.Attr) slog.Attr) Option {
	return func(o *options) { o.replace = fn }
}

// New returns a logger that writes JSON to os.Stderr (see the options) at
// the given minimum level, through a [Handler]: records carry trace_id and
// span_id of the span in the context passed to the logger's *Context
// methods, and sensitive attributes are redacted.
//
// level is parsed by [ParseLevel]; an unknown level is an error matching
// [ErrUnknownLevel], never a silent default, and no logger is returned.
// The logger is safe for concurrent use. New never calls slog.SetDefault.
func New(level string, opts ...Option) (*slog.Logger, error) {
	l, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	o := options{w: os.Stderr}
	for _, opt := range opts {
		opt(&o)
	}
	ho := &slog.HandlerOptions{AddSource: o.source, Level: l, ReplaceAttr: o.replace}
	if o.levelVar != nil {
		o.levelVar.Set(l)
		ho.Level = o.levelVar
	}
	var base slog.Handler
	if o.text {
		base = slog.NewTextHandler(o.w, ho)
	} else {
		base = slog.NewJSONHandler(o.w, ho)
	}
	return slog.New(NewHandler(base, o.redactKeys...)), nil
}
