package config_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chassis-go/chassis/config"
)

type validated struct {
	Port     int            `env:"PORT" envDefault:"8080" validate:"min=1,max=65535"`
	Workers  uint8          `env:"WORKERS" envDefault:"4" validate:"min=1,max=64"`
	Ratio    float64        `env:"RATIO" envDefault:"0.5" validate:"min=0,max=1"`
	Timeout  time.Duration  `env:"TIMEOUT" envDefault:"5s" validate:"min=1ms,max=1m"`
	Level    string         `env:"LEVEL" envDefault:"info" validate:"oneof=debug|info|warn|error"`
	Code     int            `env:"CODE" envDefault:"200" validate:"oneof=200|204"`
	Name     string         `env:"NAME" envDefault:"svc" validate:"min=2,max=8,pattern=^[a-z]+$"`
	Region   string         `env:"REGION" validate:"omitempty,pattern=^[a-z]{2}-[a-z]+-[0-9]$"`
	Hosts    []string       `env:"HOSTS" envDefault:"a" validate:"min=1,max=3,pattern=^[a-z.]+$"`
	Modes    []string       `env:"MODES" validate:"oneof=r|w"`
	Limits   map[string]int `env:"LIMITS" validate:"max=2"`
	MaxConns *int           `env:"MAX_CONNS" validate:"min=1"`
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want []string // "VAR rule: msg"
	}{
		{name: "defaults are valid", env: nil},
		{name: "bounds inclusive", env: map[string]string{"PORT": "65535", "WORKERS": "64", "RATIO": "1", "TIMEOUT": "1m", "NAME": "ab", "HOSTS": "a,b,c"}},
		{name: "int min", env: map[string]string{"PORT": "0"}, want: []string{"PORT min=1: 0 is less than min=1"}},
		{name: "int max", env: map[string]string{"PORT": "65536"}, want: []string{"PORT max=65535: 65536 is greater than max=65535"}},
		{name: "uint min", env: map[string]string{"WORKERS": "0"}, want: []string{"WORKERS min=1: 0 is less than min=1"}},
		{name: "float max", env: map[string]string{"RATIO": "1.5"}, want: []string{"RATIO max=1: 1.5 is greater than max=1"}},
		{name: "float NaN", env: map[string]string{"RATIO": "NaN"}, want: []string{"RATIO min=0: NaN is less than min=0"}},
		{name: "duration min", env: map[string]string{"TIMEOUT": "0s"}, want: []string{"TIMEOUT min=1ms: 0s is less than min=1ms"}},
		{name: "duration max", env: map[string]string{"TIMEOUT": "2m"}, want: []string{"TIMEOUT max=1m: 2m0s is greater than max=1m"}},
		{name: "oneof string", env: map[string]string{"LEVEL": "verbose"}, want: []string{`LEVEL oneof=debug|info|warn|error: "verbose" is not one of debug|info|warn|error`}},
		{name: "oneof is case-sensitive", env: map[string]string{"LEVEL": "INFO"}, want: []string{`LEVEL oneof=debug|info|warn|error: "INFO" is not one of debug|info|warn|error`}},
		{name: "oneof int", env: map[string]string{"CODE": "201"}, want: []string{"CODE oneof=200|204: 201 is not one of 200|204"}},
		{name: "string length in characters", env: map[string]string{"NAME": "é"}, want: []string{
			"NAME min=2: length 1 is less than min=2",
			`NAME pattern=^[a-z]+$: "é" does not match pattern ^[a-z]+$`,
		}},
		{name: "string max length", env: map[string]string{"NAME": "abcdefghi"}, want: []string{"NAME max=8: length 9 is greater than max=8"}},
		{name: "pattern", env: map[string]string{"NAME": "Abc"}, want: []string{`NAME pattern=^[a-z]+$: "Abc" does not match pattern ^[a-z]+$`}},
		{name: "pattern with comma and omitempty", env: map[string]string{"REGION": "eu-west-1"}},
		{name: "pattern with comma fails", env: map[string]string{"REGION": "europe"}, want: []string{`REGION pattern=^[a-z]{2}-[a-z]+-[0-9]$: "europe" does not match pattern ^[a-z]{2}-[a-z]+-[0-9]$`}},
		{name: "slice length", env: map[string]string{"HOSTS": "a,b,c,d"}, want: []string{"HOSTS max=3: length 4 is greater than max=3"}},
		{name: "slice elements pattern", env: map[string]string{"HOSTS": "a,B"}, want: []string{`HOSTS pattern=^[a-z.]+$: element 1 ("B") does not match pattern ^[a-z.]+$`}},
		{name: "slice elements oneof", env: map[string]string{"MODES": "r,x,w,y"}, want: []string{
			`MODES oneof=r|w: element 1 ("x") is not one of r|w`,
			`MODES oneof=r|w: element 3 ("y") is not one of r|w`,
		}},
		{name: "map length", env: map[string]string{"LIMITS": "a:1,b:2,c:3"}, want: []string{"LIMITS max=2: length 3 is greater than max=2"}},
		{name: "nil pointer not checked", env: map[string]string{}},
		{name: "pointer checked", env: map[string]string{"MAX_CONNS": "0"}, want: []string{"MAX_CONNS min=1: 0 is less than min=1"}},
		{name: "all problems together", env: map[string]string{"PORT": "0", "LEVEL": "x", "WORKERS": "nope"}, want: []string{
			"PORT min=1: 0 is less than min=1",
			`WORKERS parse: "nope" is not a valid uint8: invalid syntax`,
			`LEVEL oneof=debug|info|warn|error: "x" is not one of debug|info|warn|error`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load[validated](config.WithEnvironment(tc.env))
			got := problems(t, err)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Load(%v) problems =\n\t%s\nwant\n\t%s", tc.env, strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}

func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load() err = %v; want *config.Error", err)
	}
	var out []string
	for _, p := range ce.Problems {
		out = append(out, p.Var+" "+p.Rule+": "+p.Msg)
	}
	return out
}

func TestValidateUnsetIsZero(t *testing.T) {
	t.Parallel()
	type cfg struct {
		Port int    `env:"PORT" validate:"min=1"`
		Opt  int    `env:"OPT" validate:"omitempty,min=1"`
		Name string `env:"NAME" validate:"pattern=^x"`
	}
	_, err := config.Load[cfg](config.WithEnvironment(nil))
	want := []string{"PORT min=1: 0 is less than min=1", `NAME pattern=^x: "" does not match pattern ^x`}
	if got := problems(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("Load() problems = %q; want %q", got, want)
	}
}

func TestValidateTagErrors(t *testing.T) {
	t.Parallel()
	type cfg struct {
		Trailing   int           `env:"A" validate:"min=1,"`
		Empty      int           `env:"B" validate:"min=1,,max=2"`
		NoValue    int           `env:"C" validate:"min"`
		Dup        int           `env:"D" validate:"min=1,min=2"`
		Inverted   int           `env:"E" validate:"min=5,max=1"`
		NegLen     string        `env:"F" validate:"min=-1"`
		DurBound   time.Duration `env:"G" validate:"min=10"`
		OneofEmpty string        `env:"H" validate:"oneof=a||b"`
		OneofBool  bool          `env:"I" validate:"oneof=true"`
		PatternInt int           `env:"J" validate:"pattern=^1"`
		OmitArg    int           `env:"K" validate:"omitempty=1"`
		NaNBound   float64       `env:"L" validate:"max=NaN"`
		UintNeg    uint          `env:"M" validate:"min=-1"`
		Fine       int           `env:"N" validate:""`
	}
	_, err := config.Load[cfg](config.WithEnvironment(nil))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load() err = %v; want *config.Error", err)
	}
	want := map[string]string{
		"Trailing":   "trailing comma",
		"Empty":      "empty rule",
		"NoValue":    `rule "min" needs a value`,
		"Dup":        `duplicate rule "min"`,
		"Inverted":   "min=5 is greater than max=1",
		"NegLen":     "a length cannot be negative",
		"DurBound":   "min=10 is not a valid bound for time.Duration",
		"OneofEmpty": "empty alternative",
		"OneofBool":  "oneof does not apply to type bool",
		"PatternInt": "pattern does not apply to type int",
		"OmitArg":    "omitempty takes no value",
		"NaNBound":   "NaN is not a bound",
		"UintNeg":    "min=-1 is not a valid bound for uint",
	}
	got := map[string]string{}
	for _, p := range ce.Problems {
		if p.Rule != config.RuleValidateTag {
			t.Errorf("problem %v has rule %q; want %q", p, p.Rule, config.RuleValidateTag)
		}
		got[p.Field] = p.Msg
	}
	for field, sub := range want {
		if !strings.Contains(got[field], sub) {
			t.Errorf("problem for field %s = %q; want it to contain %q", field, got[field], sub)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Load() reported %d tag problems; want %d: %v", len(got), len(want), err)
	}
}

func TestValidateNestedGroups(t *testing.T) {
	t.Parallel()
	type peer struct {
		Addr string `env:"ADDR"`
	}
	type cfg struct {
		Peers []peer `envPrefix:"PEERS" validate:"min=1,max=2"`
		DB    struct {
			Host string `env:"HOST"`
		} `envPrefix:"DB_" validate:"min=1"`
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"list too short", nil, []string{
			" min=1: length 0 is less than min=1",
			" validate-tag: bad validate tag \"min=1\": min and max do not apply to type struct { Host string \"env:\\\"HOST\\\"\" }",
		}},
		{"list too long", map[string]string{"PEERS_0_ADDR": "a", "PEERS_1_ADDR": "b", "PEERS_2_ADDR": "c"}, []string{
			" max=2: length 3 is greater than max=2",
			" validate-tag: bad validate tag \"min=1\": min and max do not apply to type struct { Host string \"env:\\\"HOST\\\"\" }",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load[cfg](config.WithEnvironment(tc.env))
			if got := problems(t, err); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Load() problems =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}
