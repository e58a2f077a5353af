package httpkit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/chassis-go/chassis/httpkit"
	"github.com/chassis-go/chassis/problem"
)

func ExampleDecodeJSON() {
	createUser := func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name string `json:"name"`
			Age  int    `json:"age"`
		}
		if err := httpkit.DecodeJSON(w, r, &in, httpkit.DisallowUnknownFields()); err != nil {
			problem.Write(w, r, err)
			return
		}
		_ = httpkit.WriteJSON(w, r, http.StatusCreated, map[string]any{"name": in.Name, "age": in.Age})
	}

	for _, body := range []string{
		`{"name":"Ada","age":36}`,
		`{"nmae":"Ada"}`,
		`{"name":"Ada","age":"36"}`,
		`{"name":"Ada","__proto__":{"admin":true}}`,
	} {
		req := httptest.NewRequest("POST", "/users", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		createUser(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
		if rec.Code >= 400 {
			fmt.Println()
		}
	}
	// Output:
	// 201 {"age":36,"name":"Ada"}
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"body: unknown field \"nmae\""}
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"body: field \"age\": expected integer, got string"}
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"body: JSON key \"__proto__\" is not allowed","limit":"deny_keys"}
}
