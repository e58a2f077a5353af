package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"testing"
)

func TestCheckDigest(t *testing.T) {
	want := map[int64]analysis{1: {Words: 2, Chars: 9}, 2: {Words: 1, Chars: 1}}
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"exact", `{"notes":[{"id":1,"title":"a","words":2,"chars":9},{"id":2,"title":"b","words":1,"chars":1}]}`, true},
		{"any order", `{"notes":[{"id":2,"words":1,"chars":1},{"id":1,"words":2,"chars":9}]}`, true},
		{"wrong words", `{"notes":[{"id":1,"words":3,"chars":9},{"id":2,"words":1,"chars":1}]}`, false},
		{"missing", `{"notes":[{"id":1,"words":2,"chars":9}]}`, false},
		{"duplicate", `{"notes":[{"id":1,"words":2,"chars":9},{"id":1,"words":2,"chars":9}]}`, false},
		{"stranger", `{"notes":[{"id":1,"words":2,"chars":9},{"id":3,"words":1,"chars":1}]}`, false},
		{"not json", `oops`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkDigest([]byte(tc.body), want); got != tc.ok {
				t.Errorf("checkDigest(%s) = %v; want %v", tc.body, got, tc.ok)
			}
		})
	}
}

func TestProblemReason(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"type":"about:blank","status":503,"reason":"circuit_open"}`, "circuit_open"},
		{`{"status":503}`, ""},
		{`not json`, ""},
	}
	for _, tc := range tests {
		if got := problemReason([]byte(tc.body)); got != tc.want {
			t.Errorf("problemReason(%s) = %q; want %q", tc.body, got, tc.want)
		}
	}
}

func TestContract(t *testing.T) {
	tests := []struct {
		op     op
		status int
		want   bool
	}{
		{opCreate, 201, true}, {opCreate, 200, false}, {opCreate, 429, false},
		{opGet, 200, true}, {opGet, 404, false},
		{opList, 200, true},
		{opDelete, 204, true}, {opDelete, 200, false},
		{opDigest, 200, true}, {opDigest, 503, true}, {opDigest, 504, true}, {opDigest, 500, false}, {opDigest, 502, false},
	}
	for _, tc := range tests {
		if got := tc.op.contract(tc.status); got != tc.want {
			t.Errorf("%v.contract(%d) = %v; want %v", tc.op, tc.status, got, tc.want)
		}
	}
}

func TestIsRefused(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	hc := newClient(1, true)
	defer hc.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+addr+"/", nil)
	_, err = hc.Do(req)
	if err == nil || !isRefused(err) {
		t.Errorf("isRefused(%v) = false; want true for a closed port", err)
	}
	if isRefused(fmt.Errorf("EOF")) {
		t.Error("isRefused(EOF) = true; want false")
	}
}

func TestPickKeepsTheStoreSmall(t *testing.T) {
	cfg := &loadConfig{mix: [numOps]int{opCreate: 20, opGet: 45, opList: 10, opDelete: 15, opDigest: 10}}
	w := &worker{cfg: cfg, rng: rand.New(rand.NewPCG(1, 1))}
	var seen [numOps]int
	for i := range 10_000 {
		o := w.pick()
		seen[o]++
		switch o {
		case opCreate:
			if len(w.own) >= maxOwn {
				t.Fatalf("pick() = create with %d notes owned; want delete", len(w.own))
			}
			w.own = append(w.own, int64(i))
		case opDelete:
			if len(w.own) == 0 {
				t.Fatal("pick() = delete with no note owned")
			}
			w.own = w.own[1:]
		}
	}
	for o, n := range seen {
		if n == 0 {
			t.Errorf("pick() never chose %v", op(o))
		}
	}
	if d := seen[opDigest]; d < 800 || d > 1200 {
		t.Errorf("pick() chose the digest %d times in 10000; want about 1000", d)
	}
}

func TestFloodKeysAreDistinct(t *testing.T) {
	seen := make(map[string]bool)
	for i := 1; i <= 300_000; i++ {
		k := floodKey(i)
		if seen[k] {
			t.Fatalf("floodKey(%d) = %s repeats", i, k)
		}
		if net.ParseIP(k) == nil {
			t.Fatalf("floodKey(%d) = %s; not an IP address", i, k)
		}
		seen[k] = true
	}
}

func TestIsShed(t *testing.T) {
	t.Parallel()
	shed := `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"the server is overloaded; retry later","request_id":"x"}`
	tests := []struct {
		status int
		body   string
		want   bool
	}{
		{503, shed, true},
		{429, shed, false},
		{503, `{"status":503,"detail":"downstream unavailable","reason":"circuit_open"}`, false},
		{503, `not json`, false},
		{503, ``, false},
	}
	for _, tc := range tests {
		if got := isShed(tc.status, []byte(tc.body)); got != tc.want {
			t.Errorf("isShed(%d, %q) = %v; want %v", tc.status, tc.body, got, tc.want)
		}
	}
}
