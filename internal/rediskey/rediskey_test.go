package rediskey_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/chassis-go/chassis/internal/rediskey"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCheckPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		want   string // "" for no error
	}{
		{"", ""},
		{"chassis:idempotency:", ""},
		{"app{1}:", `WithPrefix("app{1}:") contains a brace; braces are reserved for the hash tag`},
		{"app{", `WithPrefix("app{") contains a brace; braces are reserved for the hash tag`},
		{"app}", `WithPrefix("app}") contains a brace; braces are reserved for the hash tag`},
	}
	for _, tt := range tests {
		err := rediskey.CheckPrefix(tt.prefix)
		if got := ""; err != nil {
			got = err.Error()
			if got != tt.want {
				t.Errorf("CheckPrefix(%q) = %q; want %q", tt.prefix, got, tt.want)
			}
		} else if tt.want != "" {
			t.Errorf("CheckPrefix(%q) = nil; want %q", tt.prefix, tt.want)
		}
	}
}
