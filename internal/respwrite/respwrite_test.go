package respwrite_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/internal/respwrite"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRecords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		write   func(w http.ResponseWriter)
		status  int
		bytes   int64
		started bool
	}{
		{"nothing", func(http.ResponseWriter) {}, 0, 0, false},
		{"bare write", func(w http.ResponseWriter) { _, _ = io.WriteString(w, "hello") }, 200, 5, true},
		{"explicit", func(w http.ResponseWriter) { w.WriteHeader(404); _, _ = w.Write([]byte("x")) }, 404, 1, true},
		{"1xx then 201", func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(201) }, 201, 0, true},
		{"second header ignored", func(w http.ResponseWriter) { w.WriteHeader(202); w.WriteHeader(500) }, 202, 0, true},
		{"flush", func(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() }, 200, 0, true},
		{"readfrom", func(w http.ResponseWriter) { _, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("abc")) }, 200, 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			w := respwrite.New(rec)
			tc.write(w)
			if w.Status() != tc.status || w.Bytes() != tc.bytes || w.Started() != tc.started {
				t.Errorf("got status=%d bytes=%d started=%v; want %d %d %v",
					w.Status(), w.Bytes(), w.Started(), tc.status, tc.bytes, tc.started)
			}
		})
	}
}

func TestResponseControllerThrough(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	w := respwrite.New(rec)
	if err := http.NewResponseController(w).Flush(); err != nil {
		t.Fatalf("Flush() = %v; want nil", err)
	}
	if !rec.Flushed {
		t.Error("recorder not flushed")
	}
	_, _, err := http.NewResponseController(w).Hijack()
	if !errors.Is(err, http.ErrNotSupported) {
		t.Errorf("Hijack() on recorder = %v; want ErrNotSupported", err)
	}
	if w.Hijacked() {
		t.Error("Hijacked() = true after a failed hijack")
	}
}

type hijackable struct {
	http.ResponseWriter
	conn net.Conn
}

func (h hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) { return h.conn, nil, nil }

func TestHijack(t *testing.T) {
	t.Parallel()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	w := respwrite.New(hijackable{httptest.NewRecorder(), c1})
	conn, _, err := w.Hijack()
	if err != nil || conn != c1 {
		t.Fatalf("Hijack() = %v, %v; want conn, nil", conn, err)
	}
	if !w.Hijacked() || !w.Started() {
		t.Error("Hijacked/Started not recorded")
	}
}
