package secval_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/chassis-go/chassis/problem"
	"github.com/chassis-go/chassis/secval"
)

func ExampleLimits_Check() {
	var l secval.Limits // the defaults
	for _, doc := range []string{
		`{"name":"Ada","tags":["x"]}`,
		`{"\u005f_proto__":{"isAdmin":true}}`,
		strings.Repeat("[", 40) + strings.Repeat("]", 40),
		`{"name":"Ada",}`,
	} {
		err := l.Check([]byte(doc))
		var p *problem.Error
		if errors.As(err, &p) {
			fmt.Println(p.Status, p.Detail, p.Extensions["limit"])
			continue
		}
		fmt.Println("ok")
	}
	// Output:
	// ok
	// 400 JSON key "__proto__" is not allowed deny_keys
	// 400 JSON nesting exceeds 32 levels max_depth
	// 400 invalid JSON at offset 14 <nil>
}

func ExampleLimits_Reader() {
	body := strings.NewReader(`{"name":"Ada","roles":["a","b","c"]}`)
	l := secval.Limits{MaxElements: 2}

	var in struct {
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
	}
	// One pass: the decoder reads through the validator.
	err := json.NewDecoder(l.Reader(body)).Decode(&in)
	fmt.Println(err)
	fmt.Println(errors.Is(err, secval.ErrLimit))
	// Output:
	// problem: 400 Bad Request: JSON array has more than 2 elements: secval: limit exceeded
	// true
}
