package main

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
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
)

// store is an in-memory note store, safe for concurrent use. A real service
// would put a database here; the handlers would not change.
type store struct {
	mu     sync.RWMutex
	nextID int64
	notes  map[int64]Note
	now    func() time.Time
}

func newStore() *store {
	return &store{notes: make(map[int64]Note), now: time.Now}
}

var (
	errNoteNotFound = problem.NotFound("no note with that id")
	errStoreFull    = problem.New(http.StatusInsufficientStorage, "the note store is full")
)

func (s *store) create(in noteInput) (Note, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.notes) >= maxNotes {
		return Note{}, errStoreFull
	}
	s.nextID++
	n := Note{ID: s.nextID, Title: in.Title, Body: in.Body, Created: s.now().UTC()}
	s.notes[n.ID] = n
	return n, nil
}

func (s *store) get(id int64) (Note, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.notes[id]
	if !ok {
		return Note{}, errNoteNotFound
	}
	return n, nil
}

func (s *store) delete(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.notes[id]; !ok {
		return errNoteNotFound
	}
	delete(s.notes, id)
	return nil
}

// len returns the number of notes, without copying or sorting them (the
// readiness check calls it on every probe).
func (s *store) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.notes)
}

// list returns up to limit notes in id order.
func (s *store) list(limit int) []Note {
	s.mu.RLock()
	out := make([]Note, 0, min(limit, len(s.notes)))
	for _, n := range s.notes {
		out = append(out, n)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Note) int { return cmp.Compare(a.ID, b.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// notesAPI serves the /v1/notes endpoints.
type notesAPI struct {
	store *store
}

func (a *notesAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/notes", a.create)
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
	n, err := a.store.create(in)
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
		if n, err = a.store.get(id); err == nil {
			_ = httpkit.WriteJSON(w, r, http.StatusOK, n)
			return
		}
	}
	problem.Write(w, r, err)
}

func (a *notesAPI) delete(w http.ResponseWriter, r *http.Request) {
	id, err := noteID(r)
	if err == nil {
		err = a.store.delete(id)
	}
	if err != nil {
		problem.Write(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *notesAPI) list(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			problem.Write(w, r, problem.BadRequest("limit: must be an integer from 1 to 1000").With("field", "limit"))
			return
		}
		limit = n
	}
	_ = httpkit.WriteJSON(w, r, http.StatusOK, map[string]any{"notes": a.store.list(limit)})
}

func noteID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, problem.BadRequest("id: must be a positive integer").With("field", "id")
	}
	return id, nil
}
