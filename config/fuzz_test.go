package config_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chassis-go/chassis/config"
)

type fuzzed struct {
	Port    int           `env:"PORT" validate:"min=1,max=65535"`
	Level   string        `env:"LEVEL" validate:"oneof=debug|info|warn|error"`
	Name    string        `env:"NAME" validate:"min=2,max=8,pattern=^[a-z]+$"`
	Timeout time.Duration `env:"TIMEOUT" validate:"min=1ms,max=1m"`
	Hosts   []string      `env:"HOSTS" validate:"max=3,pattern=^[a-z.]+$"`
	Secret  string        `env:"SECRET" secret:"true" validate:"min=12,pattern=^s_"`
	PIN     int           `env:"PIN" secret:"true" validate:"min=1000,max=9999"`
	Wait    time.Duration `env:"WAIT" secret:"true" validate:"max=1h"`
}

// marker surrounds fuzzed secrets: if an error text contains it, a secret
// (or part of one, with the marker) leaked.
const marker = "Qx7marker"

func FuzzLoadValues(f *testing.F) {
	for _, s := range []string{"", "0", "80", "65536", "info", "verbose", "abc", "ABC", "1s", "2h", "a,b", "é", "\x00", "s_0123456789", "-1", "NaN", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		secret := marker + v + marker
		env := map[string]string{
			"PORT": v, "LEVEL": v, "NAME": v, "TIMEOUT": v, "HOSTS": v,
			"SECRET": secret, "PIN": secret, "WAIT": secret,
		}
		cfg, err := config.Load[fuzzed](config.WithEnvironment(env))
		if err == nil {
			t.Fatalf("Load() err = nil with invalid secrets; cfg = %+v", cfg)
		}
		var ce *config.Error
		if !errors.As(err, &ce) {
			t.Fatalf("Load() err = %T %v; want *config.Error", err, err)
		}
		if strings.Contains(err.Error(), marker) {
			t.Fatalf("Load() error shows a secret:\n%v", err)
		}
		failed := map[string]bool{}
		for _, p := range ce.Problems {
			failed[p.Var] = true
			if p.Var == "" || !strings.Contains(err.Error(), p.Var) {
				t.Errorf("problem %+v does not name its variable", p)
			}
		}
		for _, s := range []string{"SECRET", "PIN", "WAIT"} {
			if !failed[s] {
				t.Errorf("Load() accepted secret %s = %q", s, secret)
			}
		}
		// Cross-check the non-secret verdicts with an independent oracle.
		n, perr := strconv.ParseInt(v, 10, 0)
		if want := perr != nil || n < 1 || n > 65535; failed["PORT"] != want {
			t.Errorf("PORT=%q failed = %v; want %v", v, failed["PORT"], want)
		}
		want := v != "debug" && v != "info" && v != "warn" && v != "error"
		if failed["LEVEL"] != want {
			t.Errorf("LEVEL=%q failed = %v; want %v", v, failed["LEVEL"], want)
		}
		want = utf8.RuneCountInString(v) < 2 || utf8.RuneCountInString(v) > 8 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyz") != ""
		if failed["NAME"] != want {
			t.Errorf("NAME=%q failed = %v; want %v", v, failed["NAME"], want)
		}
		d, derr := time.ParseDuration(v)
		want = v != "" && (derr != nil || d < time.Millisecond || d > time.Minute) || v == ""
		if failed["TIMEOUT"] != want {
			t.Errorf("TIMEOUT=%q failed = %v; want %v", v, failed["TIMEOUT"], want)
		}
	})
}
