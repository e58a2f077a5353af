package logz_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/logz"
)

func TestParseLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want slog.Level
		err  bool
	}{
		{in: "debug", want: slog.LevelDebug},
		{in: "DEBUG", want: slog.LevelDebug},
		{in: "info", want: slog.LevelInfo},
		{in: " Info ", want: slog.LevelInfo},
		{in: "warn", want: slog.LevelWarn},
		{in: "warning", want: slog.LevelWarn},
		{in: "WARNING+1", want: slog.LevelWarn + 1},
		{in: "error", want: slog.LevelError},
		{in: "INFO+2", want: slog.LevelInfo + 2},
		{in: "debug-4", want: slog.LevelDebug - 4},
		{in: "", err: true},
		{in: "verbose", err: true},
		{in: "info+", err: true},
		{in: "info+x", err: true},
		{in: "0", err: true},
		{in: "-4", err: true},
		{in: "fatal", err: true},
		{in: "warnings", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := logz.ParseLevel(tc.in)
			if tc.err {
				if !errors.Is(err, logz.ErrUnknownLevel) {
					t.Errorf("ParseLevel(%q) = %v, %v; want ErrUnknownLevel", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseLevel(%q) = %v, %v; want %v, nil", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestNewLevelVar(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelWarn)
	l := logz.New(&buf, &logz.Options{HandlerOptions: slog.HandlerOptions{Level: lv}, Text: true})
	l.Info("dropped")
	l.Warn("kept1")
	lv.Set(slog.LevelDebug)
	l.Debug("kept2")
	got := buf.String()
	if strings.Contains(got, "dropped") || !strings.Contains(got, "kept1") || !strings.Contains(got, "kept2") {
		t.Errorf("log output = %q; want kept1 and kept2 only", got)
	}
}

func TestNewFixedLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := logz.New(&buf, &logz.Options{HandlerOptions: slog.HandlerOptions{Level: slog.LevelError}})
	l.Warn("no")
	l.Error("yes")
	if got := buf.String(); strings.Contains(got, `"no"`) || !strings.Contains(got, `"msg":"yes"`) {
		t.Errorf("log output = %q; want only the error record", got)
	}
}

// TestNilOptions shows the nil rules: a nil *Options is the zero Options
// (JSON at Info), and a nil Level is Info.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]*logz.Options{
		"nil options": nil,
		"zero":        {},
		"nil level":   {HandlerOptions: slog.HandlerOptions{Level: nil}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l := logz.New(&buf, opts)
			l.Debug("no")
			l.Info("yes", "password", "p")
			got := buf.String()
			if strings.Contains(got, `"no"`) || !strings.Contains(got, `"msg":"yes"`) || !strings.Contains(got, `"password":"[REDACTED]"`) {
				t.Errorf("log output = %q; want one JSON record at info, password redacted", got)
			}
		})
	}
}

// TestNewCopiesOptions checks that New does not keep opts: changing them
// afterwards changes nothing.
func TestNewCopiesOptions(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	o := &logz.Options{RedactKeys: []string{"ssn"}}
	l := logz.New(&buf, o)
	o.Text = true
	o.RedactKeys[0] = "zzz"
	o.Level = slog.LevelError
	l.Info("m", "ssn", "1")
	if got := buf.String(); !strings.Contains(got, `"ssn":"[REDACTED]"`) {
		t.Errorf("log output = %q; want JSON at info with ssn redacted", got)
	}
}

func TestConstructorPanics(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"New":        func() { logz.New(nil, nil) },
		"NewHandler": func() { logz.NewHandler(nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, "logz."+name+": ") {
					t.Errorf("%s(nil) panic = %v; want a \"logz.%s: ...\" message", name, r, name)
				}
			}()
			f()
		})
	}
}
