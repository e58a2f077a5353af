package main

import (
	"testing"
)

const promPage = `# HELP chassis_call_retries_total Retries.
# TYPE chassis_call_retries_total counter
chassis_call_retries_total{http_request_method="POST",otel_scope_name="github.com/chassis-go/chassis/call"} 42
chassis_call_retries_total{http_request_method="GET"} 8
chassis_call_breaker_transitions_total{chassis_breaker_state="open"} 3
chassis_call_breaker_transitions_total{chassis_breaker_state="half_open"} 2
chassis_call_breaker_transitions_total{chassis_breaker_state="closed"} 1
chassis_ratelimit_keys{chassis_limiter="memory",note="a \"quoted\" } brace, and comma"} 99999 1700000000000
go_info 1
bad line without value
bad{unterminated="x 1
nan_metric NaN
`

func TestParseProm(t *testing.T) {
	m := parseProm([]byte(promPage))
	tests := []struct {
		name  string
		match []string
		want  float64
		found bool
	}{
		{"chassis_call_retries_total", nil, 50, true},
		{"chassis_call_retries_total", []string{"http_request_method", "POST"}, 42, true},
		{"chassis_call_breaker_transitions_total", []string{"chassis_breaker_state", "open"}, 3, true},
		{"chassis_ratelimit_keys", []string{"chassis_limiter", "memory"}, 99999, true},
		{"chassis_ratelimit_keys", []string{"note", `a "quoted" } brace, and comma`}, 99999, true},
		{"go_info", nil, 1, true},
		{"missing_total", nil, 0, false},
		{"chassis_call_retries_total", []string{"http_request_method", "PUT"}, 0, false},
	}
	for _, tc := range tests {
		got, found := m.sum(tc.name, tc.match...)
		if got != tc.want || found != tc.found {
			t.Errorf("sum(%q, %q) = %v, %v; want %v, %v", tc.name, tc.match, got, found, tc.want, tc.found)
		}
	}
	for _, s := range m {
		if s.name == "bad" {
			t.Errorf("parsed a malformed line: %+v", s)
		}
	}
}

func FuzzParseProm(f *testing.F) {
	f.Add([]byte(promPage))
	f.Add([]byte(`x{a="\\",b="\n"} 1`))
	f.Add([]byte(`{} 1`))
	f.Add([]byte("x{a=\"1\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range parseProm(b) {
			if s.name == "" {
				t.Fatalf("parseProm(%q) returned a sample without a name", b)
			}
		}
	})
}
