package main

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chassis-go/chassis/httpkit"
	"github.com/chassis-go/chassis/problem"
)

// Note is the resource the API manages.
type Note struct {
	ID      int64     `json:"id"`
	Title   string    `json:"title"`
	Body    string    `json:"body"`
	Created time.Time `json:"created"`
}

// noteInput is what clients send to create a note.
type noteInput struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// Limits a note must respect; anything larger is a 400 naming the field.
const (
	maxTitle = 200
	maxBody  = 16 << 10
	maxNotes = 10_000
	// A list answer holds at most maxListLimit notes of at most maxBody
	// bytes each: 1.6 MiB, not the 16 MiB a limit of 1000 allowed.
	defaultListLimit = 20
	maxListLimit     = 100
)

var (
	errNoteNotFound = problem.NotFound("no note with that id")
	errStoreFull    = problem.New(http.StatusInsufficientStorage, "the note store is full")
)

// notesAPI serves the /v1/notes endpoints.
type notesAPI struct {
	store noteStore
	idem  func(http.Handler) http.Handler // Idempotency-Key on create
}

func (a *notesAPI) register(mux *http.ServeMux) {
	mux.Handle("POST /v1/notes", a.idem(http.HandlerFunc(a.create)))
	mux.HandleFunc("GET /v1/notes", a.list)
	mux.HandleFunc("GET /v1/notes/{id}", a.get)
	mux.HandleFunc("DELETE /v1/notes/{id}", a.delete)
}

func (a *notesAPI) create(w http.ResponseWriter, r *http.Request) {
	var in noteInput
	if err := httpkit.DecodeJSON(w, r, &in, httpkit.DisallowUnknownFields()); err != nil {
		problem.Write(w, r, err)
		return
	}
	in.Title = strings.TrimSpace(in.Title)
	switch {
	case in.Title == "":
		problem.Write(w, r, problem.New(http.StatusUnprocessableEntity, "title: must not be empty").With("field", "title"))
		return
	case len(in.Title) > maxTitle:
		problem.Write(w, r, problem.New(http.StatusUnprocessableEntity, "title: longer than 200 bytes").With("field", "title"))
		return
	case len(in.Body) > maxBody:
		problem.Write(w, r, problem.New(http.StatusUnprocessableEntity, "body: longer than 16384 bytes").With("field", "body"))
		return
	}
	n, err := a.store.create(r.Context(), in)
	if err != nil {
		problem.Write(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/notes/"+strconv.FormatInt(n.ID, 10))
	_ = httpkit.WriteJSON(w, r, http.StatusCreated, n)
}

func (a *notesAPI) get(w http.ResponseWriter, r *http.Request) {
	id, err := noteID(r)
	if err == nil {
		var n Note
		if n, err = a.store.get(r.Context(), id); err == nil {
			_ = httpkit.WriteJSON(w, r, http.StatusOK, n)
			return
		}
	}
	problem.Write(w, r, err)
}

func (a *notesAPI) delete(w http.ResponseWriter, r *http.Request) {
	id, err := noteID(r)
	if err == nil {
		err = a.store.delete(r.Context(), id)
	}
	if err != nil {
		problem.Write(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *notesAPI) list(w http.ResponseWriter, r *http.Request) {
	limit := defaultListLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListLimit {
			problem.Write(w, r, problem.BadRequest("limit: must be an integer from 1 to 100").With("field", "limit"))
			return
		}
		limit = n
	}
	notes, err := a.store.list(r.Context(), limit)
	if err != nil {
		problem.Write(w, r, err)
		return
	}
	_ = httpkit.WriteJSON(w, r, http.StatusOK, map[string]any{"notes": notes})
}

func noteID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, problem.BadRequest("id: must be a positive integer").With("field", "id")
	}
	return id, nil
}
