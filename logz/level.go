package logz

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// ErrUnknownLevel is returned, wrapped, by [ParseLevel] for a level name it
// does not know.
var ErrUnknownLevel = errors.New("logz: unknown level")

// ParseLevel parses a level name: debug, info, warn (or warning) or error, in
// any case, optionally followed by an offset in the syntax of
// [slog.Level.UnmarshalText]: "info+2", "ERROR-1". Surrounding spaces are
// ignored. Anything else, the empty string included, returns an error that
// matches [ErrUnknownLevel]; there is no silent default.
//
// It accepts what [slog.Level.UnmarshalText] accepts (so a config field of
// type slog.Level reads the same names) plus "warning" and surrounding
// spaces, for input typed by people, such as a runtime level endpoint.
func ParseLevel(s string) (slog.Level, error) {
	t := strings.TrimSpace(s)
	name, offset := t, ""
	if i := strings.IndexAny(t, "+-"); i > 0 {
		name, offset = t[:i], t[i:]
	}
	if strings.EqualFold(name, "warning") {
		t = "WARN" + offset
	}
	var l slog.Level
	if t == "" || l.UnmarshalText([]byte(t)) != nil {
		return 0, fmt.Errorf("%w %q; want debug, info, warn or error, optionally with an offset such as info+2", ErrUnknownLevel, s)
	}
	return l, nil
}
