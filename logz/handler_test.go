package logz_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/chassis-go/chassis/logz"
)

var (
	testTraceID = trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	testSpanID  = trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
)

const (
	wantTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	wantSpan  = "00f067aa0ba902b7"
)

func spanCtx() context.Context {
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: testTraceID, SpanID: testSpanID, TraceFlags: trace.FlagsSampled})
	return trace.ContextWithSpanContext(context.Background(), sc)
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// newJSON returns a logger writing through logz.New into buf at level
// debug, without the time; edit changes the options before New.
func newJSON(t *testing.T, buf *bytes.Buffer, edit ...func(*logz.Options)) *slog.Logger {
	t.Helper()
	o := &logz.Options{HandlerOptions: slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: dropTime}}
	for _, e := range edit {
		e(o)
	}
	return logz.New(buf, o)
}

func text(o *logz.Options)   { o.Text = true }
func source(o *logz.Options) { o.AddSource = true }
func redact(keys ...string) func(*logz.Options) {
	return func(o *logz.Options) { o.RedactKeys = keys }
}

func TestTraceCorrelation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		log  func(l *slog.Logger, ctx context.Context)
		want string
	}{
		{
			name: "plain",
			log:  func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m", "a", 1) },
			want: `{"level":"INFO","msg":"m","trace_id":"T","span_id":"S","a":1}`,
		},
		{
			name: "with attrs",
			log:  func(l *slog.Logger, ctx context.Context) { l.With("svc", "x").InfoContext(ctx, "m", "a", 1) },
			want: `{"level":"INFO","msg":"m","svc":"x","trace_id":"T","span_id":"S","a":1}`,
		},
		{
			name: "group",
			log:  func(l *slog.Logger, ctx context.Context) { l.WithGroup("g").InfoContext(ctx, "m", "a", 1) },
			want: `{"level":"INFO","msg":"m","trace_id":"T","span_id":"S","g":{"a":1}}`,
		},
		{
			name: "attrs, groups and attrs in groups",
			log: func(l *slog.Logger, ctx context.Context) {
				l.With("svc", "x").WithGroup("req").With("id", 7).WithGroup("db").With("table", "t").
					InfoContext(ctx, "m", "rows", 3, slog.Group("sub", "k", "v"))
			},
			want: `{"level":"INFO","msg":"m","svc":"x","trace_id":"T","span_id":"S","req":{"id":7,"db":{"table":"t","rows":3,"sub":{"k":"v"}}}}`,
		},
		{
			name: "group with no record attrs keeps group attrs",
			log: func(l *slog.Logger, ctx context.Context) {
				l.WithGroup("g").With("a", 1).WithGroup("h").InfoContext(ctx, "m")
			},
			want: `{"level":"INFO","msg":"m","trace_id":"T","span_id":"S","g":{"a":1}}`,
		},
		{
			name: "empty group is dropped",
			log:  func(l *slog.Logger, ctx context.Context) { l.WithGroup("g").InfoContext(ctx, "m") },
			want: `{"level":"INFO","msg":"m","trace_id":"T","span_id":"S"}`,
		},
		{
			name: "redaction with groups",
			log: func(l *slog.Logger, ctx context.Context) {
				l.WithGroup("g").With("password", "p").InfoContext(ctx, "m", "token", "t", "ok", true)
			},
			want: `{"level":"INFO","msg":"m","trace_id":"T","span_id":"S","g":{"password":"[REDACTED]","token":"[REDACTED]","ok":true}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, withSpan := range []bool{true, false} {
				var buf bytes.Buffer
				ctx := context.Background()
				want := strings.NewReplacer(`"T"`, `"`+wantTrace+`"`, `"S"`, `"`+wantSpan+`"`).Replace(tc.want)
				if withSpan {
					ctx = spanCtx()
				} else {
					want = strings.NewReplacer(`"trace_id":"T","span_id":"S",`, "", `,"trace_id":"T","span_id":"S"`, "").Replace(tc.want)
				}
				tc.log(newJSON(t, &buf), ctx)
				if got := strings.TrimSpace(buf.String()); got != want {
					t.Errorf("span=%v: logged\n%s\nwant\n%s", withSpan, got, want)
				}
			}
		})
	}
}

func TestTraceCorrelationText(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := newJSON(t, &buf, text)
	l.WithGroup("g").With("a", 1).InfoContext(spanCtx(), "m", "b", 2)
	want := "level=INFO msg=m trace_id=" + wantTrace + " span_id=" + wantSpan + " g.a=1 g.b=2\n"
	if got := buf.String(); got != want {
		t.Errorf("logged %q; want %q", got, want)
	}
}

func TestInvalidSpanAddsNothing(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	// A span context with only a trace id is not valid.
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: testTraceID})
	newJSON(t, &buf).InfoContext(trace.ContextWithSpanContext(context.Background(), sc), "m")
	if got := buf.String(); strings.Contains(got, "trace_id") {
		t.Errorf("logged %s; want no trace_id for an invalid span context", got)
	}
}

func TestSourceSurvivesRebuild(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	newJSON(t, &buf, source).WithGroup("g").InfoContext(spanCtx(), "m", "a", 1)
	var rec struct {
		Source struct{ File string }
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(rec.Source.File, "handler_test.go") {
		t.Errorf("source file = %q; want handler_test.go (the caller)", rec.Source.File)
	}
}

type secretUser struct{ name, password string }

func (u secretUser) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", u.name), slog.String("password", u.password))
}

type countingValuer struct{ n *atomic.Int32 }

func (c countingValuer) LogValue() slog.Value { c.n.Add(1); return slog.StringValue("v") }

func TestRedaction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want map[string]any
	}{
		{"top level", func(l *slog.Logger) { l.Info("m", "password", "p", "user", "u") },
			map[string]any{"password": "[REDACTED]", "user": "u"}},
		{"case and separators", func(l *slog.Logger) {
			l.Info("m", "DB_PASSWORD", 1, "X-Api-Key", "k", "api_key", "k", "Authorization", "Bearer x",
				"Set-Cookie", "c", "refresh_token", "t", "client.secret", "s", "author", "a", "privateKey", "pk")
		}, map[string]any{"DB_PASSWORD": "[REDACTED]", "X-Api-Key": "[REDACTED]", "api_key": "[REDACTED]",
			"Authorization": "[REDACTED]", "Set-Cookie": "[REDACTED]", "refresh_token": "[REDACTED]",
			"client.secret": "[REDACTED]", "author": "a", "privateKey": "[REDACTED]"}},
		{"custom keys", func(l *slog.Logger) { l.Info("m", "SSN", "123", "card-number", "4111", "name", "n") },
			map[string]any{"SSN": "[REDACTED]", "card-number": "[REDACTED]", "name": "n"}},
		{"inside group value", func(l *slog.Logger) { l.Info("m", slog.Group("db", "host", "h", "password", "p")) },
			map[string]any{"db": map[string]any{"host": "h", "password": "[REDACTED]"}}},
		{"group value with sensitive key", func(l *slog.Logger) { l.Info("m", slog.Group("credentials", "user", "u", "pass", "p")) },
			map[string]any{"credentials": "[REDACTED]"}},
		{"LogValuer result", func(l *slog.Logger) { l.Info("m", "user", secretUser{"ann", "p"}) },
			map[string]any{"user": map[string]any{"name": "ann", "password": "[REDACTED]"}}},
		{"LogValuer under sensitive key is not resolved", func(l *slog.Logger) { l.Info("m", "token", secretUser{"ann", "p"}) },
			map[string]any{"token": "[REDACTED]"}},
		{"WithAttrs", func(l *slog.Logger) { l.With("secret", "s", "u", secretUser{"bob", "p"}).Info("m") },
			map[string]any{"secret": "[REDACTED]", "u": map[string]any{"name": "bob", "password": "[REDACTED]"}}},
		{"inside WithGroup", func(l *slog.Logger) { l.WithGroup("g").With("cookie", "c").Info("m", "token", "t", "n", 1) },
			map[string]any{"g": map[string]any{"cookie": "[REDACTED]", "token": "[REDACTED]", "n": float64(1)}}},
		{"inline group", func(l *slog.Logger) { l.Info("m", slog.Group("", "password", "p", "x", 1)) },
			map[string]any{"password": "[REDACTED]", "x": float64(1)}},
		{"deep", func(l *slog.Logger) {
			l.Info("m", slog.Group("a", slog.Group("b", slog.Group("c", "apikey", "k", "k", "v"))))
		}, map[string]any{"a": map[string]any{"b": map[string]any{"c": map[string]any{"apikey": "[REDACTED]", "k": "v"}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, ctx := range []context.Context{context.Background(), spanCtx()} {
				var buf bytes.Buffer
				l := newJSON(t, &buf, redact("ssn", "CARD_NUMBER", ""))
				tc.log(slog.New(withCtx{l.Handler(), ctx}))
				var got map[string]any
				if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
					t.Fatalf("bad JSON %q: %v", buf.String(), err)
				}
				for _, k := range []string{"level", "msg", "trace_id", "span_id"} {
					delete(got, k)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("logged %s; want attributes %v", buf.String(), tc.want)
				}
			}
		})
	}
}

func TestRedactionWithSpanAndContext(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := newJSON(t, &buf)
	l.WithGroup("g").InfoContext(spanCtx(), "m", "user", secretUser{"ann", "hunter2"})
	if got := buf.String(); strings.Contains(got, "hunter2") || !strings.Contains(got, `"trace_id"`) {
		t.Errorf("logged %s; want the password redacted and a trace_id", got)
	}
}

func TestLogValuerResolvedOnce(t *testing.T) {
	t.Parallel()
	for _, ctx := range []context.Context{context.Background(), spanCtx()} {
		var n atomic.Int32
		newJSON(t, &bytes.Buffer{}).WithGroup("g").InfoContext(ctx, "m", "v", countingValuer{&n})
		if got := n.Load(); got != 1 {
			t.Errorf("LogValue called %d times; want 1", got)
		}
	}
}

func TestRedactionLongKey(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	key := strings.Repeat("x", 100) + "_Password"
	newJSON(t, &buf).Info("m", key, "p", strings.Repeat("y", 100), "shown")
	if got := buf.String(); strings.Contains(got, `"p"`) || !strings.Contains(got, "shown") {
		t.Errorf("logged %s; want the long sensitive key redacted and the other kept", got)
	}
}

func TestDefaultRedactKeysIsACopy(t *testing.T) {
	t.Parallel()
	k := logz.DefaultRedactKeys()
	k[0] = "changed"
	if logz.DefaultRedactKeys()[0] == "changed" {
		t.Error("DefaultRedactKeys() returned shared state")
	}
}

func TestNewHandlerWrapsAnyHandler(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	h := logz.NewHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}), "pin")
	l := slog.New(h)
	l.InfoContext(spanCtx(), "m", "pin", 1234, "at", time.Duration(0))
	want := "level=INFO msg=m trace_id=" + wantTrace + " span_id=" + wantSpan + " pin=[REDACTED] at=0s\n"
	if got := buf.String(); got != want {
		t.Errorf("logged %q; want %q", got, want)
	}
	if h.WithGroup("") != slog.Handler(h) || h.WithAttrs(nil) != slog.Handler(h) {
		t.Error("WithGroup(\"\") or WithAttrs(nil) did not return the receiver")
	}
}

func TestWithDoesNotAliasSiblings(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	base := newJSON(t, &buf).WithGroup("g").With("a", 1)
	l1 := base.With("b", 2)
	l2 := base.With("c", 3)
	l1.InfoContext(spanCtx(), "one")
	l2.InfoContext(spanCtx(), "two")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"g":{"a":1,"b":2}`) || !strings.Contains(lines[1], `"g":{"a":1,"c":3}`) {
		t.Errorf("logged\n%s\nwant g.a,g.b then g.a,g.c", buf.String())
	}
}

// withCtx replaces the context given to Handle, so that tests can log with
// a span through methods that take no context.
type withCtx struct {
	h   slog.Handler
	ctx context.Context
}

func (w withCtx) Enabled(ctx context.Context, l slog.Level) bool { return w.h.Enabled(ctx, l) }
func (w withCtx) Handle(_ context.Context, r slog.Record) error  { return w.h.Handle(w.ctx, r) }
func (w withCtx) WithAttrs(as []slog.Attr) slog.Handler          { return withCtx{w.h.WithAttrs(as), w.ctx} }
func (w withCtx) WithGroup(name string) slog.Handler             { return withCtx{w.h.WithGroup(name), w.ctx} }

// passThrough is a user handler that wraps another and forwards everything,
// as a sampling or filtering handler would.
type passThrough struct{ h slog.Handler }

func (p passThrough) Enabled(ctx context.Context, l slog.Level) bool  { return p.h.Enabled(ctx, l) }
func (p passThrough) Handle(ctx context.Context, r slog.Record) error { return p.h.Handle(ctx, r) }
func (p passThrough) WithAttrs(as []slog.Attr) slog.Handler           { return passThrough{p.h.WithAttrs(as)} }
func (p passThrough) WithGroup(name string) slog.Handler              { return passThrough{p.h.WithGroup(name)} }

// TestCorrelationSurvivesWrapping checks that each record carries trace_id
// and span_id exactly once, at the top level, whatever wraps the Handler,
// and also when a Handler wraps another one.
func TestCorrelationSurvivesWrapping(t *testing.T) {
	t.Parallel()
	json := func(buf *bytes.Buffer) slog.Handler {
		return slog.NewJSONHandler(buf, &slog.HandlerOptions{ReplaceAttr: dropTime})
	}
	tests := []struct {
		name  string
		build func(a, b *bytes.Buffer) slog.Handler
		bufs  int // how many of a, b receive the record
	}{
		{"multi handler", func(a, b *bytes.Buffer) slog.Handler {
			return slog.NewMultiHandler(logz.NewHandler(json(a)), logz.NewHandler(json(b)))
		}, 2},
		{"user wrapper", func(a, _ *bytes.Buffer) slog.Handler {
			return passThrough{logz.NewHandler(json(a))}
		}, 1},
		{"logz around logz", func(a, _ *bytes.Buffer) slog.Handler {
			return logz.NewHandler(passThrough{logz.NewHandler(json(a))})
		}, 1},
		{"logz around multi of logz", func(a, b *bytes.Buffer) slog.Handler {
			return logz.NewHandler(slog.NewMultiHandler(logz.NewHandler(json(a)), json(b)))
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, log := range []struct {
				name string
				do   func(l *slog.Logger)
				want string
			}{
				{"plain", func(l *slog.Logger) { l.InfoContext(spanCtx(), "m", "a", 1) },
					`{"level":"INFO","msg":"m","trace_id":"T","span_id":"S","a":1}`},
				{"group", func(l *slog.Logger) { l.With("x", 1).WithGroup("g").InfoContext(spanCtx(), "m", "a", 1) },
					`{"level":"INFO","msg":"m","x":1,"trace_id":"T","span_id":"S","g":{"a":1}}`},
			} {
				var a, b bytes.Buffer
				log.do(slog.New(tc.build(&a, &b)))
				want := strings.NewReplacer("T", wantTrace, "S", wantSpan).Replace(log.want) + "\n"
				for i, buf := range []*bytes.Buffer{&a, &b}[:tc.bufs] {
					if got := buf.String(); got != want {
						t.Errorf("%s: output %d = %s; want %s", log.name, i, got, want)
					}
				}
			}
		})
	}
}
