package config_test

import (
	"errors"
	"log/slog"
	"math"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/chassis-go/chassis/config"
)

// TestLoadSlogLevel checks that a slog.Level field parses itself (it is an
// encoding.TextUnmarshaler), so services need no level strings.
func TestLoadSlogLevel(t *testing.T) {
	t.Parallel()
	type cfg struct {
		Level slog.Level `env:"LOG_LEVEL" envDefault:"info"`
	}
	tests := []struct {
		env     map[string]string
		want    slog.Level
		wantErr bool
	}{
		{env: nil, want: slog.LevelInfo},
		{env: map[string]string{"LOG_LEVEL": "debug"}, want: slog.LevelDebug},
		{env: map[string]string{"LOG_LEVEL": "WARN+2"}, want: slog.LevelWarn + 2},
		{env: map[string]string{"LOG_LEVEL": "error"}, want: slog.LevelError},
		{env: map[string]string{"LOG_LEVEL": ""}, want: slog.LevelInfo},
		{env: map[string]string{"LOG_LEVEL": "loud"}, wantErr: true},
	}
	for _, tc := range tests {
		got, err := config.Load[cfg](config.WithEnvironment(tc.env))
		if tc.wantErr {
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "LOG_LEVEL") {
				t.Errorf("Load(%v) err = %v; want ErrInvalid naming LOG_LEVEL", tc.env, err)
			}
			continue
		}
		if err != nil || got.Level != tc.want {
			t.Errorf("Load(%v) = %v, %v; want %v", tc.env, got.Level, err, tc.want)
		}
	}
}

// TestLoadPointerGroup checks the rule for a *struct field without
// env:",init": it is loaded when one of its variables is set (and then its
// required fields are checked), and stays nil when none is.
func TestLoadPointerGroup(t *testing.T) {
	t.Parallel()
	type tls struct {
		Cert string `env:"CERT,required"`
		Key  string `env:"KEY,required" secret:"true"`
		Min  string `env:"MIN" envDefault:"1.2"`
	}
	type inner struct {
		Deep *tls `envPrefix:"DEEP_"`
	}
	type cfg struct {
		TLS   *tls   `envPrefix:"TLS_"`
		Outer *inner `envPrefix:"OUTER_"`
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    cfg
		wantErr []string // variables reported
	}{
		{name: "nothing set: nil", env: map[string]string{"OTHER": "x"}},
		{name: "all set", env: map[string]string{"TLS_CERT": "c", "TLS_KEY": "k"},
			want: cfg{TLS: &tls{Cert: "c", Key: "k", Min: "1.2"}}},
		{name: "partly set: the missing required field is reported", env: map[string]string{"TLS_CERT": "c"},
			wantErr: []string{"TLS_KEY"}},
		{name: "set to empty counts as set", env: map[string]string{"TLS_MIN": ""},
			wantErr: []string{"TLS_CERT", "TLS_KEY"}},
		{name: "nested pointer groups", env: map[string]string{"OUTER_DEEP_CERT": "c", "OUTER_DEEP_KEY": "k"},
			want: cfg{Outer: &inner{Deep: &tls{Cert: "c", Key: "k", Min: "1.2"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.Load[cfg](config.WithEnvironment(tc.env))
			if tc.wantErr != nil {
				var ce *config.Error
				if !errors.As(err, &ce) {
					t.Fatalf("Load() err = %v; want *config.Error", err)
				}
				var vars []string
				for _, p := range ce.Problems {
					vars = append(vars, p.Var)
				}
				if !reflect.DeepEqual(vars, tc.wantErr) {
					t.Errorf("Load() reported %q; want %q (err: %v)", vars, tc.wantErr, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Load() = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestLoadRecursivePointerGroup checks that a recursive type ends.
func TestLoadRecursivePointerGroup(t *testing.T) {
	t.Parallel()
	type node struct {
		Name string `env:"NAME"`
		Next *node  `envPrefix:"NEXT_"`
	}
	got, err := config.Load[node](config.WithEnvironment(map[string]string{"NAME": "a", "NEXT_NAME": "b"}))
	if err != nil || got.Name != "a" || got.Next == nil || got.Next.Name != "b" || got.Next.Next != nil {
		t.Errorf("Load() = %+v, %v; want a -> b", got, err)
	}
}

// TestLoadEmptyValues pins the empty-value and list rules of the package
// documentation.
func TestLoadEmptyValues(t *testing.T) {
	t.Parallel()
	type cfg struct {
		Name   string   `env:"NAME" envDefault:"svc"`
		Port   int      `env:"PORT" envDefault:"8080"`
		Note   string   `env:"NOTE"`
		Tags   []string `env:"TAGS"`
		Hosts  []string `env:"HOSTS" envDefault:" a , b "`
		Ports  []int    `env:"PORTS" envSeparator:";"`
		Secret []string `env:"KEYS" secret:"true"`
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    cfg
		wantErr string
	}{
		{name: "empty means the default", env: map[string]string{"NAME": "", "PORT": "", "HOSTS": ""},
			want: cfg{Name: "svc", Port: 8080, Hosts: []string{"a", "b"}}},
		{name: "empty without a default is the zero value", env: map[string]string{"NOTE": "", "TAGS": "", "PORTS": ""},
			want: cfg{Name: "svc", Port: 8080, Hosts: []string{"a", "b"}}},
		{name: "spaces are a value", env: map[string]string{"NAME": "  "},
			want: cfg{Name: "  ", Port: 8080, Hosts: []string{"a", "b"}}},
		{name: "list elements are trimmed", env: map[string]string{"TAGS": " x, y ,z", "PORTS": " 1 ; 2"},
			want: cfg{Name: "svc", Port: 8080, Tags: []string{"x", "y", "z"}, Hosts: []string{"a", "b"}, Ports: []int{1, 2}}},
		{name: "empty element", env: map[string]string{"TAGS": "x,,y"}, wantErr: `TAGS: "x,,y" has an empty element 1`},
		{name: "trailing separator", env: map[string]string{"PORTS": "1;2;"}, wantErr: `PORTS: "1;2;" has an empty element 2`},
		{name: "blank element", env: map[string]string{"TAGS": "x, ,y"}, wantErr: `TAGS: "x, ,y" has an empty element 1`},
		{name: "secret list", env: map[string]string{"KEYS": "k1,,hunter2"}, wantErr: `KEYS: secret list has an empty element 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.Load[cfg](config.WithEnvironment(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "hunter2") {
					t.Errorf("Load() err = %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Load() = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestLoadIntWidth checks that int and uint fields (and slices and named
// types of them) take the full width of the platform's int, up to and not
// beyond math.MaxInt and math.MaxUint.
func TestLoadIntWidth(t *testing.T) {
	t.Parallel()
	type count int
	type cfg struct {
		N     int    `env:"N"`
		U     uint   `env:"U"`
		C     count  `env:"C"`
		Ns    []int  `env:"NS"`
		P     *int   `env:"P"`
		Small int32  `env:"SMALL"`
		Uns   []uint `env:"UNS"`
	}
	maxInt, minInt, maxUint := strconv.Itoa(math.MaxInt), strconv.Itoa(math.MinInt), strconv.FormatUint(math.MaxUint, 10)
	overInt := strconv.FormatUint(uint64(math.MaxInt)+1, 10)
	ok := map[string]string{"N": maxInt, "U": maxUint, "C": minInt, "NS": minInt + "," + maxInt, "P": maxInt, "SMALL": "2147483647", "UNS": maxUint}
	got, err := config.Load[cfg](config.WithEnvironment(ok))
	if err != nil || got.N != math.MaxInt || got.U != math.MaxUint || got.C != math.MinInt ||
		!reflect.DeepEqual(got.Ns, []int{math.MinInt, math.MaxInt}) || got.P == nil || *got.P != math.MaxInt || got.Uns[0] != math.MaxUint {
		t.Errorf("Load(%v) = %+v, %v; want every field at its limit", ok, got, err)
	}
	for _, bad := range []map[string]string{
		{"N": overInt}, {"C": overInt}, {"NS": "1," + overInt}, {"U": maxUint + "0"}, {"SMALL": "2147483648"}, {"N": "-" + overInt + "0"},
	} {
		if _, err := config.Load[cfg](config.WithEnvironment(bad)); !strings.Contains(err.Error(), "value out of range") {
			t.Errorf("Load(%v) err = %v; want value out of range", bad, err)
		}
	}
}

// TestRedactedURLQuery checks that Redacted hides secrets in URL query
// strings, in url.URL and in string fields, besides the password.
func TestRedactedURLQuery(t *testing.T) {
	t.Parallel()
	type cfg struct {
		DB     url.URL  `env:"DB"`
		DBP    *url.URL `env:"DBP"`
		DSN    string   `env:"DSN"`
		Bad    string   `env:"BAD"`
		Plain  string   `env:"PLAIN"`
		Public url.URL  `env:"PUBLIC"`
	}
	parse := func(s string) url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return *u
	}
	p := parse("https://api/x?API_KEY=k3y&page=2")
	c := cfg{
		DB:     parse("postgres://u:pw1@db/app?sslmode=require&password=pw2&Access-Token=tk&X-Amz-Signature=sig&sslpassword=pw3&client.secret=s3"),
		DBP:    &p,
		DSN:    "redis://:pw4@cache:6379/0?auth=pw5",
		Bad:    "postgres://u:pw6@db:badport/app",
		Plain:  "just text with password=visible", // not a URL: left alone
		Public: parse("https://example.com/search?q=go&page=2"),
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("m", "config", config.Redacted(c))
	out := b.String()
	for _, secret := range []string{"pw1", "pw2", "=tk", "=sig", "pw3", "=s3", "k3y", "pw4", "pw5", "pw6"} {
		if strings.Contains(out, secret) {
			t.Errorf("Redacted shows %q:\n%s", secret, out)
		}
	}
	for _, shown := range []string{"sslmode=require", "page=2", "q=go", "password=visible", "db:badport/app", "Access-Token=xxxxx"} {
		if !strings.Contains(out, shown) {
			t.Errorf("Redacted hides %q, which is not secret:\n%s", shown, out)
		}
	}
}

// TestNilOptions shows the nil rules: a nil Option is ignored, and
// WithEnvironment(nil) is an empty environment.
func TestNilOptions(t *testing.T) {
	t.Parallel()
	type cfg struct {
		Port int `env:"PORT" envDefault:"8080"`
	}
	got, err := config.Load[cfg](nil, config.WithEnvironment(nil), nil)
	if err != nil || got.Port != 8080 {
		t.Errorf("Load(nil, WithEnvironment(nil), nil) = %+v, %v; want the default", got, err)
	}
	if v := config.Redacted(cfg{Port: 1}, nil, config.WithPrefix("APP_"), nil); v.String() != "[APP_PORT=1]" {
		t.Errorf("Redacted(cfg, nil, WithPrefix, nil) = %v; want [APP_PORT=1]", v)
	}
}

// TestLoadEmptyRequired pins the rule that required accepts a variable set
// to "" and notEmpty does not.
func TestLoadEmptyRequired(t *testing.T) {
	t.Parallel()
	type cfg struct {
		A string `env:"A,required"`
		B string `env:"B,notEmpty"`
	}
	_, err := config.Load[cfg](config.WithEnvironment(map[string]string{"A": "", "B": ""}))
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Var != "B" || ce.Problems[0].Rule != config.RuleNotEmpty {
		t.Errorf("Load(A=\"\", B=\"\") err = %v; want only B reported as notEmpty", err)
	}
}
