package logz

import (
	"io"
	"log/slog"
)

// Options configures [New]. A nil *Options, and the zero Options, mean JSON
// at [slog.LevelInfo] with [DefaultRedactKeys] only.
//
// The embedded [slog.HandlerOptions] are passed unchanged to the slog
// handler that New builds, so their documentation applies: Level is a
// [slog.Leveler] (nil means Info; a *[slog.LevelVar] lets the service change
// the level at run time from any goroutine), AddSource adds the caller's
// file and line, and ReplaceAttr sees attributes after redaction, trace_id
// and span_id included.
type Options struct {
	slog.HandlerOptions

	// Text selects the logfmt-like format of [slog.TextHandler] instead of
	// the JSON of [slog.JSONHandler].
	Text bool

	// RedactKeys adds words to [DefaultRedactKeys]; see [NewHandler] for how
	// keys are matched. Empty words are ignored.
	RedactKeys []string
}

// New returns a logger that writes JSON (or text, see [Options.Text]) to w
// through a [Handler]: records carry trace_id and span_id of the span in the
// context passed to the logger's *Context methods, and sensitive attributes
// are redacted. In JSON, a time.Duration is written as its String form
// ("1.5s", "250ms"), as the text format writes it, not as a number of
// nanoseconds that people and dashboards misread. A nil opts means the zero [Options]; New copies what it
// needs from opts, so later changes to *opts have no effect (changes to a
// [slog.LevelVar] in opts.Level do, by design).
//
// The logger serializes its writes to w and is safe for concurrent use. New
// never calls [slog.SetDefault]. It panics if w is nil (pass [io.Discard] to
// drop the output).
func New(w io.Writer, opts *Options) *slog.Logger {
	if w == nil {
		panic("logz.New: w is nil; pass os.Stderr, or io.Discard to drop the output")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	ho := o.HandlerOptions // the handlers copy it too; this keeps opts unaliased
	var base slog.Handler
	if o.Text {
		base = slog.NewTextHandler(w, &ho)
	} else {
		ho.ReplaceAttr = readableDurations(ho.ReplaceAttr)
		base = slog.NewJSONHandler(w, &ho)
	}
	return slog.New(NewHandler(base, o.RedactKeys...))
}

// readableDurations returns a ReplaceAttr that writes durations as strings,
// then applies next, if any.
func readableDurations(next func([]string, slog.Attr) slog.Attr) func([]string, slog.Attr) slog.Attr {
	return func(groups []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.StringValue(a.Value.Duration().String())
		}
		if next != nil {
			return next(groups, a)
		}
		return a
	}
}
