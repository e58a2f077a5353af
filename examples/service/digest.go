package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/chassis-go/chassis/call"
	"github.com/chassis-go/chassis/httpkit"
	"github.com/chassis-go/chassis/problem"
	"github.com/chassis-go/chassis/work"
)

// digestAPI serves GET /v1/digest: it fans out one downstream call per note
// with work.Map, through a call.Client that retries, budgets its retries and
// trips a breaker when the downstream fails.
type digestAPI struct {
	store      noteStore
	client     *call.Client
	analyzeURL string // the downstream endpoint
	fanOut     int
	flags      *openfeature.Client
}

// analysis is the downstream's answer for one text.
type analysis struct {
	Words int `json:"words"`
	Chars int `json:"chars"`
}

// digestItem is one note in the digest.
type digestItem struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
	analysis
}

func (a *digestAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/digest", a.digest)
}

func (a *digestAPI) digest(w http.ResponseWriter, r *http.Request) {
	// The "digest" flag turns the endpoint off (FLAG_DIGEST=false, or the
	// flags file) without a deploy, for example while the downstream is
	// being repaired.
	if !a.flags.Boolean(r.Context(), "digest", true, openfeature.EvaluationContext{}) {
		problem.Write(w, r, problem.Unavailable("the digest is switched off"))
		return
	}
	notes, err := a.store.list(r.Context(), 50)
	if err != nil {
		problem.Write(w, r, err)
		return
	}
	items, err := work.Map(r.Context(), notes, func(ctx context.Context, n Note) (digestItem, error) {
		res, err := a.analyze(ctx, n)
		return digestItem{ID: n.ID, Title: n.Title, analysis: res}, err
	}, work.Workers(a.fanOut))
	// Every item runs even after one fails (no FailFast): with the breaker
	// half-open, the one call it lets through is the probe that can close
	// it again, and cancelling it because its siblings were rejected would
	// keep the breaker half-open for as long as digests keep coming.
	if err != nil {
		problem.Write(w, r, downstreamProblem(r.Context(), err))
		return
	}
	_ = httpkit.WriteJSON(w, r, http.StatusOK, map[string]any{"notes": items})
}

// downstreamProblem says what the client of /v1/digest sees when the
// downstream failed: a 503 (fast, when the breaker is open), a 504 when our
// own deadline passed, never a 500.
func downstreamProblem(ctx context.Context, err error) *problem.Error {
	switch {
	case ctx.Err() != nil:
		return problem.From(context.Cause(ctx)).Wrap(err)
	case errors.Is(err, call.ErrCircuitOpen):
		return problem.Unavailable("text analysis is unavailable; try again later").
			With("reason", "circuit_open").Wrap(err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, call.ErrAttemptTimeout):
		return problem.Timeout("text analysis took too long").Wrap(err)
	}
	return problem.Unavailable("text analysis is unavailable").Wrap(err)
}

func (a *digestAPI) analyze(ctx context.Context, n Note) (analysis, error) {
	body, _ := json.Marshal(map[string]string{"text": n.Body})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.analyzeURL, bytes.NewReader(body))
	if err != nil {
		return analysis{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	// Analysing the same text twice is harmless: say so, so that call may
	// retry this POST.
	req.Header.Set("Idempotency-Key", "analyze-"+strconv.FormatInt(n.ID, 10))
	resp, err := a.client.Do(req)
	if err != nil {
		return analysis{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return analysis{}, fmt.Errorf("analyze note %d: downstream answered %s", n.ID, resp.Status)
	}
	var out analysis
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil {
		return analysis{}, fmt.Errorf("analyze note %d: %w", n.ID, err)
	}
	return out, nil
}

// analyzeHandler is the downstream service: it counts words and characters.
// It runs inside this process so that the service works alone; point
// DOWNSTREAM_URL elsewhere to call a real one.
func analyzeHandler(token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			problem.Write(w, r, problem.Unauthorized("missing or wrong bearer token"))
			return
		}
		var in struct {
			Text string `json:"text"`
		}
		if err := httpkit.DecodeJSON(w, r, &in); err != nil {
			problem.Write(w, r, err)
			return
		}
		_ = httpkit.WriteJSON(w, r, http.StatusOK, analysis{
			Words: len(strings.Fields(in.Text)),
			Chars: utf8.RuneCountInString(in.Text),
		})
	})
}
