package logz_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/logz"
)

func FuzzParseLevel(f *testing.F) {
	for _, s := range []string{"debug", "INFO", "warning", "error+2", "info-10", "", "+", "warn+", "x", "info+999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := logz.ParseLevel(s)
		if err != nil {
			if !errors.Is(err, logz.ErrUnknownLevel) {
				t.Fatalf("ParseLevel(%q) err = %v; want ErrUnknownLevel", s, err)
			}
			return
		}
		// Accepted levels round-trip through slog's own syntax.
		var back slog.Level
		if err := back.UnmarshalText([]byte(l.String())); err != nil || back != l {
			t.Errorf("ParseLevel(%q) = %v, which does not round-trip: %v, %v", s, l, back, err)
		}
		name := strings.ToLower(strings.TrimSpace(s))
		if i := strings.IndexAny(name, "+-"); i > 0 {
			name = name[:i]
		}
		switch name {
		case "debug", "info", "warn", "warning", "error":
		default:
			t.Errorf("ParseLevel(%q) = %v, nil; want an error for level name %q", s, l, name)
		}
	})
}

// FuzzRedactKey logs a marker under a fuzzed key and checks that it is
// hidden exactly when the key is sensitive by the documented rule.
func FuzzRedactKey(f *testing.F) {
	for _, s := range []string{"password", "DB_PASSWORD", "X-Api-Key", "api.key", "author", "tok_en", "", "Ünïcode", strings.Repeat("a", 70) + "secret"} {
		f.Add(s)
	}
	const marker = "Mk9value"
	f.Fuzz(func(t *testing.T, key string) {
		if strings.Contains(key, marker) {
			t.Skip("the key itself contains the marker")
		}
		var buf bytes.Buffer
		l := logz.New(&buf, &logz.Options{RedactKeys: []string{"ssn"}})
		l.Info("m", key, marker)
		l.Info("m", slog.Group("g", key, marker))
		var norm strings.Builder
		for _, c := range []byte(key) {
			switch {
			case c == '_' || c == '-' || c == '.' || c == ' ':
			case 'A' <= c && c <= 'Z':
				norm.WriteByte(c + 32)
			default:
				norm.WriteByte(c)
			}
		}
		sensitive := false
		for _, w := range append(logz.DefaultRedactKeys(), "ssn") {
			sensitive = sensitive || strings.Contains(norm.String(), w)
		}
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if !json.Valid([]byte(line)) {
				t.Fatalf("invalid JSON: %s", line)
			}
			shown := strings.Contains(line, marker)
			if sensitive == shown {
				t.Errorf("key %q (sensitive=%v) logged as %s", key, sensitive, line)
			}
		}
	})
}
