package guard_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/chassis-go/chassis/guard"
)

func ExampleCORS() {
	cors := guard.CORS(guard.CORSConfig{
		AllowedOrigins:   []string{"https://app.example.com"},
		AllowedMethods:   []string{http.MethodGet, http.MethodPut},
		AllowedHeaders:   []string{"Authorization", "Content-Type"},
		AllowCredentials: true,
		MaxAge:           10 * time.Minute,
	})
	api := cors(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))

	// The browser's preflight for a PUT with a JSON body and a bearer token.
	req := httptest.NewRequest(http.MethodOptions, "/notes/1", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", http.MethodPut)
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
		"Access-Control-Allow-Headers", "Access-Control-Allow-Credentials", "Access-Control-Max-Age", "Vary"} {
		fmt.Printf("%s: %s\n", k, rec.Header().Get(k))
	}

	// A page from another origin: the request is served, but the browser
	// will not let the page read the answer.
	req = httptest.NewRequest(http.MethodGet, "/notes/1", nil)
	req.Header.Set("Origin", "https://evil.example")
	rec = httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	fmt.Printf("%d %q %q\n", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"), rec.Header().Get("Vary"))
	// Output:
	// 204
	// Access-Control-Allow-Origin: https://app.example.com
	// Access-Control-Allow-Methods: PUT
	// Access-Control-Allow-Headers: authorization,content-type
	// Access-Control-Allow-Credentials: true
	// Access-Control-Max-Age: 600
	// Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers
	// 200 "" "Origin"
}
