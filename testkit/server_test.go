package testkit_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/chassis-go/chassis/testkit"
)

type result struct {
	status int
	header string
	body   string
}

func get(t *testing.T, c *http.Client, method, url, body string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Test", "yes")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s err = %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header.Get("Retry-After"), string(b)}
}

func TestServerScript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script []testkit.Response
		want   []result
	}{
		{"empty script answers 200", nil, []result{{200, "", ""}, {200, "", ""}}},
		{"last response repeats", []testkit.Response{
			{Status: 503, Header: http.Header{"Retry-After": {"1"}}, Body: "busy"},
			{Body: "ok"},
		}, []result{{503, "1", "busy"}, {200, "", "ok"}, {200, "", "ok"}}},
		{"single response for all", []testkit.Response{{Status: 404}}, []result{{404, "", ""}, {404, "", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := testkit.NewServer(t, tc.script...)
			var got []result
			for range tc.want {
				got = append(got, get(t, srv.Client(), "GET", srv.URL+"/x", ""))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("responses = %v; want %v", got, tc.want)
			}
		})
	}
}

func TestServerRecords(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t)
	get(t, srv.Client(), "POST", srv.URL+"/v1/things?a=1&b=2", `{"n":1}`)
	get(t, srv.Client(), "DELETE", srv.URL+"/v1/things/7", "")
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("len(Requests()) = %d; want 2", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v1/things" || r.Query != "a=1&b=2" || string(r.Body) != `{"n":1}` || r.Header.Get("X-Test") != "yes" {
		t.Errorf("Requests()[0] = %+v; want POST /v1/things?a=1&b=2 with body and X-Test", r)
	}
	if r := reqs[1]; r.Method != "DELETE" || r.Path != "/v1/things/7" || len(r.Body) != 0 {
		t.Errorf("Requests()[1] = %+v; want DELETE /v1/things/7 without body", r)
	}
	// Requests returns a copy.
	reqs[0].Method = "changed"
	if srv.Requests()[0].Method != "POST" {
		t.Error("Requests() returned shared state")
	}
}

// TestServerRecordsTruncatedBody sends fewer body bytes than the
// Content-Length promises and half-closes the connection: the request must
// be recorded with the bytes that arrived and the read error, not as a
// complete body. The response is read back, so the request was recorded.
func TestServerRecordsTruncatedBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, head, body string
		wantBody         string
		wantErr          error
	}{
		{"short content-length", "Content-Length: 100\r\n", "0123456789", "0123456789", io.ErrUnexpectedEOF},
		{"unterminated chunked", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n3\r\nab", "helloab", io.ErrUnexpectedEOF},
		{"complete", "Content-Length: 5\r\n", "hello", "hello", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := testkit.NewServer(t, testkit.Response{Body: "ok"})
			conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			req := "POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + tc.head + "\r\n" + tc.body
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			resp.Body.Close()
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("len(Requests()) = %d; want 1", len(reqs))
			}
			if r := reqs[0]; string(r.Body) != tc.wantBody || !errors.Is(r.BodyErr, tc.wantErr) || (tc.wantErr == nil) != (r.BodyErr == nil) {
				t.Errorf("Requests()[0] Body, BodyErr = %q, %v; want %q, %v", r.Body, r.BodyErr, tc.wantBody, tc.wantErr)
			}
		})
	}
}

func TestServerConcurrent(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, testkit.Response{Status: 500}, testkit.Response{Status: 201})
	const n = 20
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Go(func() {
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[500] != 1 || count[201] != n-1 || len(srv.Requests()) != n {
		t.Errorf("statuses = %v, %d requests; want one 500, %d 201, %d requests", count, len(srv.Requests()), n-1, n)
	}
}

func TestServerHold(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := testkit.NewServer(t, testkit.Response{Hold: release, Body: "late"})

	// A held response is written once Hold is closed.
	done := make(chan result)
	go func() {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			done <- result{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- result{status: resp.StatusCode, body: string(b)}
	}()
	close(release)
	if got := <-done; got.status != 200 || got.body != "late" {
		t.Errorf("held response = %+v; want 200 late", got)
	}
}

func TestServerHoldClientGivesUp(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, testkit.Response{Hold: make(chan struct{})})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	errc := make(chan error)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	// Cancel only once the server has the request, so that the test
	// covers a server-side wait rather than a request never sent.
	for len(srv.Requests()) == 0 {
		select {
		case err := <-errc:
			t.Fatalf("request ended early: %v", err)
		default:
		}
		waitABit()
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Do() err = %v; want context.Canceled", err)
	}
}

func TestServerHoldReleasedAtCleanup(t *testing.T) {
	t.Parallel()
	errc := make(chan error, 1)
	t.Run("inner", func(t *testing.T) {
		srv := testkit.NewServer(t, testkit.Response{Hold: make(chan struct{})}) // never closed
		go func() {
			resp, err := srv.Client().Get(srv.URL)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		for len(srv.Requests()) == 0 {
			waitABit()
		}
	})
	// Cleanup returned, so the held handler was abandoned and the client
	// got a connection error rather than hanging.
	if err := <-errc; err == nil {
		t.Error("Get() to a closed server err = nil; want a connection error")
	}
}

// TestNilOptions shows the zero rules of testkit, which has no options:
// a Response with nil Header and Hold and zero Status is an immediate,
// empty 200.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, testkit.Response{Header: nil, Hold: nil})
	if got := get(t, srv.Client(), "GET", srv.URL+"/", ""); got != (result{200, "", ""}) {
		t.Errorf("GET with a zero Response = %+v; want an empty 200", got)
	}
}
