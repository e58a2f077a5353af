package logz_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/logz"
)

func TestNewDurationsReadable(t *testing.T) {
	tests := []struct {
		name string
		opts *logz.Options
		want string
	}{
		{"json", nil, `"duration":"1.5s"`},
		{"json in a group", nil, `"g":{"wait":"250ms"}`},
		{"text", &logz.Options{Text: true}, `duration=1.5s`},
		{"user ReplaceAttr still runs", &logz.Options{HandlerOptions: slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == "duration" {
					a.Key = "took"
				}
				return a
			}}}, `"took":"1.5s"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := logz.New(&buf, tc.opts)
			l.Info("x", "duration", 1500*time.Millisecond, slog.Group("g", "wait", 250*time.Millisecond))
			if !strings.Contains(buf.String(), tc.want) {
				t.Errorf("log line %s lacks %s", buf.String(), tc.want)
			}
		})
	}
}
