package guard_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/chassis-go/chassis/guard"
	"github.com/chassis-go/chassis/problem"
)

func ExampleMaxBody() {
	upload := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			// MaxBody turns this into a 413 when the limit was the cause.
			problem.Write(w, r, problem.BadRequest("unreadable body"))
			return
		}
		fmt.Fprintf(w, "stored %d bytes", len(b))
	})
	h := guard.MaxBody(8)(upload)

	for _, body := range []string{"12345678", "123456789"} {
		req := httptest.NewRequest(http.MethodPost, "/upload", strings.NewReader(body))
		req.ContentLength = -1 // as for a chunked upload: only reading can tell
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(len(body), "bytes:", rec.Code, rec.Header().Get("Content-Type"))
	}
	// Output:
	// 8 bytes: 200 text/plain; charset=utf-8
	// 9 bytes: 413 application/problem+json
}
