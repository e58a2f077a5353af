package admin_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/chassis-go/chassis/admin"
	"github.com/chassis-go/chassis/health"
)

// breakerStatus is what a stateful part might report: a struct with JSON
// tags, drawn in field order.
type breakerStatus struct {
	State        string  `json:"state"`
	FailureRatio float64 `json:"failure_ratio"`
}

func ExampleNew() {
	levels := new(slog.LevelVar)
	checker := health.New()
	checker.Add("db", func(context.Context) error { return nil })
	adm := admin.New(admin.Config{Title: "orders", Checker: checker, LevelVar: levels})
	adm.Add("payments client", admin.ReporterFunc(func() any {
		return breakerStatus{State: "closed", FailureRatio: 0.02}
	}))

	// In a service: &http.Server{Addr: "127.0.0.1:9091", Handler: adm} and
	// adm.Run as a lifecycle component.
	srv := httptest.NewServer(adm)
	defer srv.Close()

	res, err := srv.Client().Get(srv.URL + "/healthz")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, strings.Contains(string(body), `"name":"db"`))

	req, err := http.NewRequest("PUT", srv.URL+"/loglevel", strings.NewReader(`{"level":"debug"}`))
	if err != nil {
		panic(err)
	}
	res, err = srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Print(res.StatusCode, " ", string(body))
	fmt.Println(levels.Level())
	// Output:
	// 200 true
	// 200 {"level":"DEBUG"}
	// DEBUG
}

// A type with its own status method plugs in with a ReporterFunc; anything
// that encodes as JSON works.
func ExampleReporterFunc() {
	adm := admin.New(admin.Config{})
	queue := []string{"a", "b", "c"}
	adm.Add("queue", admin.ReporterFunc(func() any {
		return map[string]int{"depth": len(queue)}
	}))
	if err := adm.Sample(context.Background()); err != nil {
		panic(err)
	}
	w := httptest.NewRecorder()
	adm.ServeHTTP(w, httptest.NewRequest("GET", "http://127.0.0.1:9091/status.json", nil))
	fmt.Println(strings.Contains(w.Body.String(), `{"name":"queue","report":{"depth":3},"history":{"depth":[3]}}`))
	// Output: true
}
