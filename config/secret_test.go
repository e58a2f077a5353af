package config_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/config"
)

// The secret value used in these tests; it must never appear in any output.
const hunter = "hunter2-Zq9"

type secrets struct {
	Token    string        `env:"TOKEN" secret:"true" validate:"min=32"`
	PIN      int           `env:"PIN" secret:"true" validate:"min=1000,max=9999"`
	Mode     string        `env:"MODE" secret:"true" validate:"oneof=a|b"`
	Key      string        `env:"KEY" secret:"true" validate:"pattern=^sk_"`
	Keys     []string      `env:"KEYS" secret:"true" validate:"oneof=x|y"`
	DSN      url.URL       `env:"DSN" secret:"true"`
	Wait     time.Duration `env:"WAIT" secret:"true"`
	Level    level         `env:"LEVEL" secret:"true"`
	Weights  []int         `env:"WEIGHTS" secret:"true"`
	FromFile int           `env:"FROM_FILE,file" secret:"true"`
	Public   string        `env:"PUBLIC" secret:"false"`
}

func TestSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(file, []byte(hunter), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		rule string
	}{
		{"validation min length", map[string]string{"TOKEN": hunter}, "min=32"},
		{"parse int", map[string]string{"PIN": hunter}, config.RuleParse},
		{"validation oneof", map[string]string{"MODE": hunter}, "oneof=a|b"},
		{"validation pattern", map[string]string{"KEY": hunter}, "pattern=^sk_"},
		{"validation slice element", map[string]string{"KEYS": "x," + hunter}, "oneof=x|y"},
		{"parse url", map[string]string{"DSN": "postgres://u:" + hunter + "@[::1"}, config.RuleParse},
		{"parse duration", map[string]string{"WAIT": hunter}, config.RuleParse},
		{"parse text unmarshaler", map[string]string{"LEVEL": hunter}, config.RuleParse},
		{"parse slice", map[string]string{"WEIGHTS": "1," + hunter}, config.RuleParse},
		{"parse file content", map[string]string{"FROM_FILE": file}, config.RuleParse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"PIN": "1234", "MODE": "a", "KEY": "sk_1", "TOKEN": strings.Repeat("t", 32)}
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := config.Load[secrets](config.WithEnvironment(env))
			var fe *config.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Load() err = %v; want a *FieldError", err)
			}
			if fe.Rule != tc.rule {
				t.Errorf("Load() rule = %q; want %q (err: %v)", fe.Rule, tc.rule, err)
			}
			if fe.Err != nil {
				t.Errorf("secret FieldError.Err = %v; want nil", fe.Err)
			}
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", fe)} {
				if strings.Contains(text, hunter) || strings.Contains(text, "hunter2") {
					t.Errorf("error text contains the secret: %s", text)
				}
			}
			if strings.Contains(err.Error(), "length 11") {
				t.Errorf("error text reveals the secret's length: %v", err)
			}
		})
	}
}

func TestSecretFalseIsShown(t *testing.T) {
	t.Parallel()
	type cfg struct {
		Public int `env:"PUBLIC" secret:"false"`
	}
	_, err := config.Load[cfg](config.WithEnvironment(map[string]string{"PUBLIC": "shown-value"}))
	if err == nil || !strings.Contains(err.Error(), "shown-value") {
		t.Errorf("Load() err = %v; want it to quote the non-secret value", err)
	}
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	type db struct {
		Host     string `env:"HOST"`
		Password string `env:"PASSWORD" secret:"true"`
	}
	type peer struct {
		Addr  string `env:"ADDR"`
		Token string `env:"TOKEN" secret:"true"`
	}
	type cfg struct {
		Name     string        `env:"NAME"`
		Port     int           `env:"PORT"`
		Debug    bool          `env:"DEBUG"`
		Timeout  time.Duration `env:"TIMEOUT"`
		Endpoint url.URL       `env:"ENDPOINT"`
		Level    slog.Level    `env:"LEVEL"`
		Empty    string        `env:"EMPTY" secret:"true"`
		Odd      string        `env:"ODD" secret:"maybe"`
		Opt      *int          `env:"OPT"`
		Internal string
		DB       db     `envPrefix:"DB_"`
		Nil      *db    `envPrefix:"NIL_"`
		Peers    []peer `envPrefix:"PEERS"`
	}
	c := cfg{
		Name: "svc", Port: 8080, Debug: true, Timeout: time.Second,
		Endpoint: url.URL{Scheme: "https", User: url.UserPassword("u", hunter), Host: "h"},
		Level:    slog.LevelWarn, Odd: hunter, Internal: "not an env var",
		DB:    db{Host: "db", Password: hunter},
		Peers: []peer{{Addr: "a", Token: hunter}},
	}
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	logger.Info("config", "config", config.Redacted(&c, config.WithPrefix("APP_")))
	got := buf.String()
	want := `level=INFO msg=config config.APP_NAME=svc config.APP_PORT=8080 config.APP_DEBUG=true config.APP_TIMEOUT=1s ` +
		`config.APP_ENDPOINT=https://u:xxxxx@h config.APP_LEVEL=WARN config.APP_EMPTY=[REDACTED] config.APP_ODD=[REDACTED] ` +
		`config.APP_OPT=<nil> config.APP_DB_HOST=db config.APP_DB_PASSWORD=[REDACTED] ` +
		`config.APP_PEERS_0_ADDR=a config.APP_PEERS_0_TOKEN=[REDACTED]` + "\n"
	if got != want {
		t.Errorf("logged Redacted(cfg) =\n%s\nwant\n%s", got, want)
	}
	var js bytes.Buffer
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "config", config.Redacted(&c, config.WithPrefix("APP_")))
	if !strings.Contains(js.String(), `"APP_TIMEOUT":"1s"`) {
		t.Errorf("JSON Redacted(cfg) = %s; want APP_TIMEOUT as \"1s\", not nanoseconds", js.String())
	}
	if strings.Contains(got, hunter) {
		t.Errorf("logged Redacted(cfg) contains the secret: %s", got)
	}
	// By value works too, and so does JSON.
	buf.Reset()
	slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime})).Info("config", "config", config.Redacted(c))
	if strings.Contains(buf.String(), hunter) || !strings.Contains(buf.String(), `"PASSWORD":"[REDACTED]"`) && !strings.Contains(buf.String(), `"DB_PASSWORD":"[REDACTED]"`) {
		t.Errorf("JSON Redacted(cfg) = %s; want secrets redacted", buf.String())
	}
}

func TestRedactedNotStruct(t *testing.T) {
	t.Parallel()
	for _, v := range []any{nil, 3, (*struct{})(nil)} {
		got := config.Redacted(v)
		if got.Kind() != slog.KindString || !strings.Contains(got.String(), "is not a struct") {
			t.Errorf("Redacted(%#v) = %v; want a string explaining the mistake", v, got)
		}
	}
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
