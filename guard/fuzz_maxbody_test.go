package guard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/guard"
)

// FuzzMaxBody checks the limit for arbitrary sizes and limits, with declared
// and unknown lengths: exactly limit bytes pass, one more is a 413.
func FuzzMaxBody(f *testing.F) {
	f.Add(uint16(0), uint16(0), false)
	f.Add(uint16(0), uint16(1), true)
	f.Add(uint16(10), uint16(10), true)
	f.Add(uint16(10), uint16(11), false)
	f.Add(uint16(4096), uint16(40000), true)
	f.Fuzz(func(t *testing.T, limit, size uint16, chunked bool) {
		h := guard.MaxBody(int64(limit))(mwEcho(nil))
		var body = strings.NewReader(strings.Repeat("x", int(size)))
		req := httptest.NewRequest(http.MethodPost, "/", body)
		if chunked {
			req = httptest.NewRequest(http.MethodPost, "/", mwUnknownLength{body})
			req.ContentLength = -1
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		want := http.StatusOK
		if size > limit {
			want = http.StatusRequestEntityTooLarge
		}
		if rec.Code != want {
			t.Fatalf("MaxBody(%d) with %d bytes (chunked %v) = %d; want %d", limit, size, chunked, rec.Code, want)
		}
	})
}
