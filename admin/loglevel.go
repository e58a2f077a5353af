package admin

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/chassis-go/chassis/problem"
)

// maxLevelBody bounds a PUT /loglevel body.
const maxLevelBody = 1 << 10

type wireLevel struct {
	Level *string `json:"level"`
}

// serveLevel reads (GET) or sets (PUT {"level":"debug"}) Config.LevelVar.
// Levels are slog's names, case-insensitive, with an optional offset:
// "debug", "INFO", "warn", "error", "info+2".
func (a *Admin) serveLevel(w http.ResponseWriter, r *http.Request) {
	if a.levelVar == nil {
		problem.Write(w, r, problem.NotFound("the log level is not adjustable here: no admin Config.LevelVar"))
		return
	}
	if r.Method == http.MethodPut {
		lvl, err := readLevel(w, r)
		if err != nil {
			problem.Write(w, r, err)
			return
		}
		old := a.levelVar.Level()
		a.levelVar.Set(lvl)
		a.log().Info("admin: log level changed", "from", old.String(), "to", lvl.String(), "remote_addr", r.RemoteAddr)
	}
	s := a.levelVar.Level().String()
	writeJSON(w, r, wireLevel{Level: &s})
}

// readLevel decodes the PUT body; every failure is a 400 (413 if too big).
func readLevel(w http.ResponseWriter, r *http.Request) (slog.Level, error) {
	d := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLevelBody))
	d.DisallowUnknownFields()
	var body wireLevel
	if err := d.Decode(&body); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return 0, problem.PayloadTooLarge("the body must be at most 1 KiB")
		}
		return 0, problem.BadRequest(`the body must be a JSON object like {"level":"debug"}`)
	}
	if _, err := d.Token(); err != io.EOF {
		return 0, problem.BadRequest(`the body must hold one JSON object like {"level":"debug"}, nothing after it`)
	}
	if body.Level == nil {
		return 0, problem.BadRequest(`the body has no "level"; send {"level":"debug"}`)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*body.Level)); err != nil || *body.Level == "" {
		return 0, problem.BadRequest(`unknown level; use debug, info, warn or error (optionally with an offset, like info+2)`)
	}
	return lvl, nil
}
