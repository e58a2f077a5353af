package reqbody_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/internal/reqbody"
	"github.com/chassis-go/chassis/problem"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestRead(t *testing.T) {
	tooLarge := problem.New(http.StatusRequestEntityTooLarge, "too large")
	readFailed := problem.BadRequest("cannot read the body")
	tests := []struct {
		name string
		body io.Reader
		want string
		err  func(error) bool
	}{
		{"empty", nil, "", func(err error) bool { return err == nil }},
		{"at the cap", strings.NewReader("12345"), "12345", func(err error) bool { return err == nil }},
		{"over the cap", strings.NewReader("123456"), "", func(err error) bool { return err == tooLarge }},
		{"read error", failing{}, "", func(err error) bool {
			var p *problem.Error
			return errors.As(err, &p) && p.Status == http.StatusBadRequest
		}},
		{"outer MaxBytesReader", http.MaxBytesReader(nil, io.NopCloser(strings.NewReader("1234")), 2), "", func(err error) bool {
			var mbe *http.MaxBytesError
			return errors.As(err, &mbe)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", tc.body)
			body, err := reqbody.Read(r, 5, tooLarge, readFailed)
			if string(body) != tc.want || !tc.err(err) {
				t.Errorf("Read = %q, %v", body, err)
			}
		})
	}
}

func TestReplace(t *testing.T) {
	r := reqbody.Replace(httptest.NewRequest("POST", "/", nil), []byte("abc"))
	for range 2 {
		b, _ := io.ReadAll(r.Body)
		if string(b) != "abc" || r.ContentLength != 3 {
			t.Fatalf("body %q, ContentLength %d", b, r.ContentLength)
		}
		rc, err := r.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		r.Body = rc
	}
}
