package logz

import (
	"context"
	"encoding/hex"
	"log/slog"
	"slices"

	"go.opentelemetry.io/otel/trace"
)

// Keys of the attributes that [Handler] adds for a valid span in the
// context. They are always at the top level of the record.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// Handler is a [slog.Handler] that wraps another one to correlate records
// with traces and to keep secrets out of the log:
//
//   - When the context passed to Handle carries a valid OpenTelemetry span
//     context ([trace.SpanContextFromContext]), the record gets trace_id and
//     span_id (lower-case hex) at the top level, even when the logger has
//     groups open from WithGroup: they are never nested in a group, and no
//     attribute added with WithAttrs is lost or moved.
//   - An attribute whose key is sensitive (see [NewHandler]) is logged with
//     the value [RedactedText], wherever it is: in the record, in WithAttrs,
//     inside a [slog.Group] value or in what a [slog.LogValuer] returns. A
//     group-valued attribute with a sensitive key is replaced as a whole.
//     Group names given to WithGroup are not checked.
//
// The ids come from the context given to Handle, never from a marker on the
// handler chain, so correlation keeps working when the Handler is wrapped
// (by [slog.NewMultiHandler], a sampling or filtering handler, or a user's
// own) as long as the wrapper passes the context on, as slog requires. A
// record that already has a top-level trace_id attribute (added by another
// correlating handler, such as a second Handler outside this one, or by the
// caller) gets no second pair of ids.
//
// Records without a span and without sensitive keys or LogValuers go to the
// wrapped handler unchanged. A Handler is safe for concurrent use if the
// wrapped handler is; WithAttrs and WithGroup return new Handlers and leave
// the receiver unchanged. Handle does not stop when ctx is canceled.
type Handler struct {
	pre    slog.Handler // next with the attributes added before the first group
	full   slog.Handler // next with every attribute and group
	groups []group      // groups opened by WithGroup, outermost first
	red    *redactor
}

// group is a group opened by WithGroup and the (redacted) attributes added
// to it before the next group.
type group struct {
	name  string
	attrs []slog.Attr
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a Handler that writes to next. A key is sensitive when,
// after ASCII lower-casing and removing '_', '-', '.' and ' ', it contains
// one of the words of [DefaultRedactKeys] or of redactKeys (normalized the
// same way): "DB_PASSWORD", "X-Api-Key", "Set-Cookie" and "refresh_token"
// are sensitive, "user" and "author" are not. Substring matching errs on the
// side of hiding: "token_count" is redacted too. Empty words are ignored.
// NewHandler copies redactKeys. Panics if next is nil.
func NewHandler(next slog.Handler, redactKeys ...string) *Handler {
	if next == nil {
		panic("logz.NewHandler: next is nil; pass the handler that writes the records")
	}
	return &Handler{pre: next, full: next, red: newRedactor(redactKeys)}
}

// Enabled reports whether the wrapped handler handles records at level l.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.full.Enabled(ctx, l)
}

// WithAttrs returns a Handler whose records also carry attrs, redacted.
// LogValuers in attrs are resolved now, as the built-in handlers do.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.red.redact(a)
	}
	h2 := *h
	if len(h.groups) == 0 {
		h2.pre = h.pre.WithAttrs(red)
		h2.full = h2.pre
		return &h2
	}
	h2.groups = slices.Clone(h.groups)
	last := &h2.groups[len(h2.groups)-1]
	last.attrs = slices.Concat(last.attrs, red)
	h2.full = h.full.WithAttrs(red)
	return &h2
}

// WithGroup returns a Handler that nests the record's attributes, and those
// added later with WithAttrs, in the group name. An empty name returns h.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups = append(slices.Clip(h.groups), group{name: name})
	h2.full = h.full.WithGroup(name)
	return &h2
}

// Handle redacts r, adds trace_id and span_id when ctx carries a valid span
// context, and passes the result to the wrapped handler, returning its error.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	hasSpan := sc.IsValid()
	dirty := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == TraceIDKey && len(h.groups) == 0 {
			hasSpan = false // already correlated: never two trace_id keys
		}
		if !dirty {
			dirty = h.red.dirty(a)
		}
		return true
	})
	if !hasSpan && !dirty {
		return h.full.Handle(ctx, r)
	}

	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if hasSpan {
		// One allocation for both ids instead of one each.
		var hexIDs [48]byte
		tid, sid := sc.TraceID(), sc.SpanID()
		hex.Encode(hexIDs[:32], tid[:])
		hex.Encode(hexIDs[32:], sid[:])
		ids := string(hexIDs[:])
		nr.AddAttrs(slog.String(TraceIDKey, ids[:32]), slog.String(SpanIDKey, ids[32:]))
	}
	if !hasSpan || len(h.groups) == 0 {
		// No group is open (or no ids to add): attributes added to the
		// record are top-level for h.full.
		var buf [8]slog.Attr
		attrs := h.collect(r, dirty, buf[:0])
		nr.AddAttrs(attrs...)
		return h.full.Handle(ctx, nr)
	}
	// Groups are open, so h.full would nest anything added to the record.
	// Rebuild the groups as Group values under h.pre, which has only the
	// attributes added before the first group; the ids stay top-level.
	last := h.groups[len(h.groups)-1]
	content := make([]slog.Attr, 0, len(last.attrs)+r.NumAttrs())
	content = append(content, last.attrs...)
	content = h.collect(r, dirty, content)
	inner := slog.Attr{Key: last.name, Value: slog.GroupValue(content...)}
	for i := len(h.groups) - 2; i >= 0; i-- {
		g := h.groups[i]
		content := make([]slog.Attr, 0, len(g.attrs)+1)
		content = append(content, g.attrs...)
		content = append(content, inner)
		inner = slog.Attr{Key: g.name, Value: slog.GroupValue(content...)}
	}
	nr.AddAttrs(inner)
	return h.pre.Handle(ctx, nr)
}

// collect appends r's attributes to dst, redacted if dirty.
func (h *Handler) collect(r slog.Record, dirty bool, dst []slog.Attr) []slog.Attr {
	r.Attrs(func(a slog.Attr) bool {
		if dirty {
			a = h.red.redact(a)
		}
		dst = append(dst, a)
		return true
	})
	return dst
}
