package config_test

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/config"
)

// level implements encoding.TextUnmarshaler.
type level int

func (l *level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "low":
		*l = 1
	case "high":
		*l = 2
	default:
		return errors.New("unknown level " + strconv.Quote(string(b)))
	}
	return nil
}

type basic struct {
	Name     string            `env:"NAME"`
	Port     int               `env:"PORT" envDefault:"8080"`
	Debug    bool              `env:"DEBUG"`
	Ratio    float64           `env:"RATIO"`
	Timeout  time.Duration     `env:"TIMEOUT" envDefault:"5s"`
	Endpoint url.URL           `env:"ENDPOINT"`
	Tags     []string          `env:"TAGS"`
	Ports    []int             `env:"PORTS" envSeparator:";"`
	Labels   map[string]string `env:"LABELS"`
	Level    level             `env:"LEVEL" envDefault:"low"`
	MaxConns *int              `env:"MAX_CONNS"`
	Ignored  string            `env:"-"`
}

func TestLoadTypes(t *testing.T) {
	t.Parallel()
	got, err := config.Load[basic](config.WithEnvironment(map[string]string{
		"NAME":      "svc",
		"DEBUG":     "true",
		"RATIO":     "0.5",
		"TIMEOUT":   "250ms",
		"ENDPOINT":  "https://example.com/x",
		"TAGS":      "a,b",
		"PORTS":     "1;2",
		"LABELS":    "k:v,x:y",
		"LEVEL":     "high",
		"MAX_CONNS": "7",
		"Ignored":   "no",
	}))
	if err != nil {
		t.Fatalf("Load() err = %v; want nil", err)
	}
	seven := 7
	want := basic{
		Name: "svc", Port: 8080, Debug: true, Ratio: 0.5, Timeout: 250 * time.Millisecond,
		Endpoint: url.URL{Scheme: "https", Host: "example.com", Path: "/x"},
		Tags:     []string{"a", "b"}, Ports: []int{1, 2}, Labels: map[string]string{"k": "v", "x": "y"},
		Level: 2, MaxConns: &seven,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load() = %+v; want %+v", got, want)
	}
}

func TestLoadEnvTags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "token")
	if err := os.WriteFile(secretFile, []byte("from-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	type cfg struct {
		Required string `env:"REQUIRED,required"`
		NotEmpty string `env:"NOT_EMPTY,notEmpty"`
		File     string `env:"FILE,file"`
		Expanded string `env:"EXPANDED,expand"`
		Default  string `env:"DEFAULT" envDefault:"dflt"`
	}
	tests := []struct {
		name     string
		env      map[string]string
		want     cfg
		wantRule []string // rules of the problems, in order; nil means no error
	}{
		{
			name: "all set",
			env:  map[string]string{"REQUIRED": "r", "NOT_EMPTY": "n", "FILE": secretFile, "EXPANDED": "${HOST}:1", "HOST": "h"},
			want: cfg{Required: "r", NotEmpty: "n", File: "from-file", Expanded: "h:1", Default: "dflt"},
		},
		{
			name: "default overridden",
			env:  map[string]string{"REQUIRED": "r", "NOT_EMPTY": "n", "DEFAULT": "set"},
			want: cfg{Required: "r", NotEmpty: "n", Default: "set"},
		},
		{
			name:     "required missing",
			env:      map[string]string{"NOT_EMPTY": "n"},
			wantRule: []string{config.RuleRequired},
		},
		{
			name:     "required set empty is accepted but notEmpty is not",
			env:      map[string]string{"REQUIRED": "", "NOT_EMPTY": ""},
			wantRule: []string{config.RuleNotEmpty},
		},
		{
			name:     "file missing",
			env:      map[string]string{"REQUIRED": "r", "NOT_EMPTY": "n", "FILE": filepath.Join(dir, "nope")},
			wantRule: []string{config.RuleFile},
		},
		{
			name:     "every problem at once",
			env:      map[string]string{"FILE": filepath.Join(dir, "nope")},
			wantRule: []string{config.RuleRequired, config.RuleNotEmpty, config.RuleFile},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.Load[cfg](config.WithEnvironment(tc.env))
			if tc.wantRule == nil {
				if err != nil {
					t.Fatalf("Load() err = %v; want nil", err)
				}
				if got != tc.want {
					t.Errorf("Load() = %+v; want %+v", got, tc.want)
				}
				return
			}
			if got := rulesOf(t, err); !reflect.DeepEqual(got, tc.wantRule) {
				t.Errorf("Load() problems = %q; want rules %q (err: %v)", got, tc.wantRule, err)
			}
			if got != (cfg{}) {
				t.Errorf("Load() on error = %+v; want the zero value", got)
			}
		})
	}
}

// rulesOf returns the Rule of each problem in err, checking err's shape.
func rulesOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("Load() err = nil; want *config.Error")
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load() err = %T %v; want *config.Error", err, err)
	}
	if !errors.Is(err, config.ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false; want true", err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(ce.Problems) > 1 && len(lines) != len(ce.Problems)+1 {
		t.Errorf("Load() err has %d lines for %d problems; want one per problem plus a header:\n%v", len(lines), len(ce.Problems), err)
	}
	var rules []string
	for _, p := range ce.Problems {
		rules = append(rules, p.Rule)
		if p.Var != "" && !strings.Contains(err.Error(), p.Var+": ") {
			t.Errorf("Load() err text does not name %s:\n%v", p.Var, err)
		}
	}
	return rules
}

func TestLoadParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
		wantMsg string
	}{
		{"int", map[string]string{"PORT": "80a"}, "PORT", `"80a" is not a valid int: invalid syntax`},
		{"int range", map[string]string{"PORT": "99999999999999999999"}, "PORT", `"99999999999999999999" is not a valid int: value out of range`},
		{"bool", map[string]string{"DEBUG": "yes please"}, "DEBUG", `"yes please" is not a valid bool`},
		{"float", map[string]string{"RATIO": "half"}, "RATIO", `"half" is not a valid float64`},
		{"duration", map[string]string{"TIMEOUT": "5 parsecs"}, "TIMEOUT", `"5 parsecs" is not a valid time.Duration`},
		{"url", map[string]string{"ENDPOINT": "http://[::1"}, "ENDPOINT", `is not a valid url.URL`},
		{"slice element", map[string]string{"PORTS": "1;x"}, "PORTS", `"1;x" is not a valid []int: "x": invalid syntax`},
		{"map", map[string]string{"LABELS": "novalue"}, "LABELS", `is not a valid map[string]string`},
		{"text unmarshaler", map[string]string{"LEVEL": "mid"}, "LEVEL", `"mid" is not a valid config_test.level: unknown level "mid"`},
		{"pointer", map[string]string{"MAX_CONNS": "many"}, "MAX_CONNS", `"many" is not a valid *int`},
		{"long value is cut", map[string]string{"NAME": "ok", "PORT": strings.Repeat("9", 100) + "x"}, "PORT", `"` + strings.Repeat("9", 64) + `"...`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load[basic](config.WithEnvironment(tc.env))
			if got := rulesOf(t, err); !reflect.DeepEqual(got, []string{config.RuleParse}) {
				t.Fatalf("Load() rules = %q; want [parse] (err: %v)", got, err)
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("errors.As(%v, *FieldError) = false; want true", err)
			}
			if fe.Var != tc.wantVar || !strings.Contains(fe.Msg, tc.wantMsg) {
				t.Errorf("Load() problem = %s: %s; want %s: ...%s...", fe.Var, fe.Msg, tc.wantVar, tc.wantMsg)
			}
			if fe.Err == nil {
				t.Errorf("Load() problem %s Err = nil; want the parser's error", fe.Var)
			}
		})
	}
}

func TestLoadCauseIsMatchable(t *testing.T) {
	t.Parallel()
	_, err := config.Load[basic](config.WithEnvironment(map[string]string{"PORT": "x"}))
	if !errors.Is(err, strconv.ErrSyntax) {
		t.Errorf("errors.Is(%v, strconv.ErrSyntax) = false; want true", err)
	}
}

func TestLoadNotStruct(t *testing.T) {
	t.Parallel()
	_, err := config.Load[int](config.WithEnvironment(nil))
	if err == nil || errors.Is(err, config.ErrInvalid) {
		t.Errorf("Load[int]() err = %v; want a programmer error, not ErrInvalid", err)
	}
}

func TestMustLoad(t *testing.T) {
	t.Parallel()
	type cfg struct {
		A string `env:"A,required"`
		B int    `env:"B"`
	}
	t.Run("ok", func(t *testing.T) {
		t.Parallel()
		got := config.MustLoad[cfg](config.WithEnvironment(map[string]string{"A": "a", "B": "2"}))
		if got != (cfg{A: "a", B: 2}) {
			t.Errorf("MustLoad() = %+v; want {A:a B:2}", got)
		}
	})
	t.Run("panics with every problem", func(t *testing.T) {
		t.Parallel()
		defer func() {
			r := recover()
			err, ok := r.(error)
			if !ok {
				t.Fatalf("MustLoad() panic value = %#v; want an error", r)
			}
			want := "config: 2 problems:\n\tA: required but not set (field A)\n\tB: \"x\" is not a valid int: invalid syntax (field B)"
			if err.Error() != want {
				t.Errorf("MustLoad() panic = %q; want %q", err.Error(), want)
			}
		}()
		config.MustLoad[cfg](config.WithEnvironment(map[string]string{"B": "x"}))
	})
}

func TestLoadPrefixAndNesting(t *testing.T) {
	t.Parallel()
	type db struct {
		Host     string `env:"HOST" envDefault:"localhost"`
		Port     int    `env:"PORT" validate:"min=1"`
		Password string `env:"PASSWORD,required" secret:"true"`
	}
	type peer struct {
		Addr string `env:"ADDR,required"`
	}
	type cache struct {
		TTL time.Duration `env:"TTL"`
	}
	type cfg struct {
		Name    string `env:"NAME"`
		DB      db     `envPrefix:"DB_"`
		Replica *db    `envPrefix:"REPLICA_" env:",init"`
		Absent  *db    `envPrefix:"ABSENT_"`
		Peers   []peer `envPrefix:"PEERS"`
		Inline  struct {
			Flag bool `env:"FLAG"`
		} `envPrefix:"IN_"`
		cache `envPrefix:"CACHE_"` // unexported embedded: ignored, as in env/v11
		Cache cache                `envPrefix:"CACHE_"`
	}
	env := map[string]string{
		"APP_NAME":             "svc",
		"APP_DB_PORT":          "5432",
		"APP_DB_PASSWORD":      "pw",
		"APP_REPLICA_HOST":     "replica",
		"APP_REPLICA_PORT":     "5433",
		"APP_REPLICA_PASSWORD": "pw2",
		"APP_PEERS_0_ADDR":     "a:1",
		"APP_PEERS_1_ADDR":     "b:2",
		"APP_PEERS_3_ADDR":     "gap: not loaded",
		"APP_IN_FLAG":          "true",
		"APP_CACHE_TTL":        "1m",
		"DB_PORT":              "1", // no prefix: not read
	}
	got, err := config.Load[cfg](config.WithPrefix("APP_"), config.WithEnvironment(env))
	if err != nil {
		t.Fatalf("Load() err = %v; want nil", err)
	}
	want := cfg{
		Name:    "svc",
		DB:      db{Host: "localhost", Port: 5432, Password: "pw"},
		Replica: &db{Host: "replica", Port: 5433, Password: "pw2"},
		Peers:   []peer{{Addr: "a:1"}, {Addr: "b:2"}},
		Cache:   cache{TTL: time.Minute},
	}
	want.Inline.Flag = true
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load() = %+v; want %+v", got, want)
	}

	// Problems in nested structs name the full variable and the Go path.
	delete(env, "APP_DB_PASSWORD")
	env["APP_PEERS_1_ADDR"] = ""
	delete(env, "APP_PEERS_1_ADDR")
	env["APP_PEERS_1_X"] = "y"
	env["APP_REPLICA_PORT"] = "0"
	_, err = config.Load[cfg](config.WithPrefix("APP_"), config.WithEnvironment(env))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load() err = %v; want *config.Error", err)
	}
	var got2 []string
	for _, p := range ce.Problems {
		got2 = append(got2, p.Var+" "+p.Field+" "+p.Rule)
	}
	want2 := []string{
		"APP_DB_PASSWORD DB.Password required",
		"APP_REPLICA_PORT Replica.Port min=1",
		"APP_PEERS_1_ADDR Peers[1].Addr required",
	}
	if !reflect.DeepEqual(got2, want2) {
		t.Errorf("Load() problems = %q; want %q", got2, want2)
	}
}

func TestWithEnvironmentIsolation(t *testing.T) {
	// Not parallel: it sets a process variable.
	t.Setenv("CHASSIS_CONFIG_TEST", "process")
	type cfg struct {
		V string `env:"CHASSIS_CONFIG_TEST,unset"`
	}
	got, err := config.Load[cfg](config.WithEnvironment(map[string]string{"CHASSIS_CONFIG_TEST": "given"}))
	if err != nil || got.V != "given" {
		t.Errorf("Load(WithEnvironment) = %+v, %v; want {V:given}, nil", got, err)
	}
	if v := os.Getenv("CHASSIS_CONFIG_TEST"); v != "process" {
		t.Errorf("after Load(WithEnvironment), os.Getenv = %q; want %q (unset must not touch the process)", v, "process")
	}
	got, err = config.Load[cfg]()
	if err != nil || got.V != "process" {
		t.Errorf("Load() = %+v, %v; want {V:process}, nil", got, err)
	}
	got, err = config.Load[cfg](config.WithEnvironment(nil))
	if err != nil || got.V != "" {
		t.Errorf("Load(WithEnvironment(nil)) = %+v, %v; want {V:}, nil", got, err)
	}
}

func TestLoadTagErrors(t *testing.T) {
	t.Parallel()
	type badEnvOpt struct {
		A string `env:"A,requird"`
	}
	type badSecret struct {
		A string `env:"A" secret:"yes"`
	}
	type badValidate struct {
		A int    `env:"A" validate:"min=x"`
		B string `env:"B" validate:"pattern=("`
		C bool   `env:"C" validate:"max=1"`
		D string `env:"D" validate:"between=1"`
	}
	type noParser struct {
		C chan int `env:"C"`
	}
	tests := []struct {
		name  string
		load  func() error
		rules []string
		text  []string
	}{
		{"env option", func() error { _, err := config.Load[badEnvOpt](config.WithEnvironment(nil)); return err },
			[]string{config.RuleEnvTag}, []string{`A: env tag option "requird" is not supported (field A)`}},
		{"secret", func() error { _, err := config.Load[badSecret](config.WithEnvironment(nil)); return err },
			[]string{config.RuleSecretTag}, []string{`secret tag "yes" is not a boolean`}},
		{"validate", func() error { _, err := config.Load[badValidate](config.WithEnvironment(nil)); return err },
			[]string{config.RuleValidateTag, config.RuleValidateTag, config.RuleValidateTag, config.RuleValidateTag},
			[]string{
				`A: bad validate tag "min=x": min=x is not a valid bound for int: invalid syntax (field A)`,
				`B: bad validate tag "pattern=(": pattern: error parsing regexp`,
				`C: bad validate tag "max=1": min and max do not apply to type bool (field C)`,
				`D: bad validate tag "between=1": unknown rule "between"`,
			}},
		{"no parser", func() error {
			_, err := config.Load[noParser](config.WithEnvironment(map[string]string{"C": "1"}))
			return err
		}, []string{config.RuleType}, []string{"no parser for type chan int"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.load()
			if got := rulesOf(t, err); !reflect.DeepEqual(got, tc.rules) {
				t.Errorf("Load() rules = %q; want %q (err: %v)", got, tc.rules, err)
			}
			for _, s := range tc.text {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Load() err = %v; want it to contain %q", err, s)
				}
			}
		})
	}
}
