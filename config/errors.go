package config

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalid is matched (with [errors.Is]) by every *[Error] that [Load]
// returns: the environment did not describe a valid configuration, and Load
// returned the zero value.
var ErrInvalid = errors.New("config: invalid configuration")

// Error reports every problem [Load] found, in struct field order. Its text
// has one problem per line, each naming the environment variable, and never
// contains the value of a field tagged secret:"true".
//
// Once returned, an Error is not modified; it is safe to read concurrently.
type Error struct {
	// Problems holds one entry per bad field; it is never empty.
	Problems []FieldError
}

// Error returns "config: VAR: msg (field F)" for one problem, and otherwise a
// "config: N problems:" line followed by one tab-indented line per problem.
func (e *Error) Error() string {
	switch len(e.Problems) {
	case 0:
		return ErrInvalid.Error()
	case 1:
		return "config: " + e.Problems[0].Error()
	}
	var b strings.Builder
	b.WriteString("config: ")
	b.WriteString(strconv.Itoa(len(e.Problems)))
	b.WriteString(" problems:")
	for i := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(e.Problems[i].Error())
	}
	return b.String()
}

// Is reports whether target is [ErrInvalid].
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the problems as errors, so that [errors.As] can find a
// *[FieldError] and [errors.Is] can match a cause such as [strconv.ErrSyntax].
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i := range e.Problems {
		errs[i] = &e.Problems[i]
	}
	return errs
}

// Rules reported in [FieldError.Rule] for problems that are not a failed
// validate rule. A failed validate rule is reported as written in the tag,
// for example "min=1" or "oneof=debug|info".
const (
	RuleRequired    = "required"     // env:",required" and the variable is not set
	RuleNotEmpty    = "notEmpty"     // env:",notEmpty" and the variable is empty
	RuleFile        = "file"         // env:",file" and the file cannot be read
	RuleParse       = "parse"        // the value cannot be parsed into the field's type
	RuleType        = "type"         // no parser exists for the field's type (programmer error)
	RuleEnvTag      = "env-tag"      // the env tag has an unknown option (programmer error)
	RuleValidateTag = "validate-tag" // the validate tag is malformed or does not fit the type (programmer error)
	RuleSecretTag   = "secret-tag"   // the secret tag is not a boolean (programmer error)
)

// FieldError is one problem with one field. Its fields and text never contain
// the value of a secret field.
type FieldError struct {
	// Var is the full environment variable name, prefixes included, such as
	// "APP_DB_PORT". It is empty for a field without an env key.
	Var string
	// Field is the Go path of the field, such as "DB.Port" or "Peers[1].Addr".
	Field string
	// Rule names what failed: one of the Rule constants, or a validate rule
	// as written in the tag ("min=1").
	Rule string
	// Msg says what is wrong, such as `"abc" is not an int: invalid syntax`.
	Msg string
	// Err is the underlying cause, if any. It is always nil for a secret
	// field, because causes from parsers may quote the value.
	Err error
}

// Error returns "VAR: msg (field F)", or "F: msg" when the field has no
// environment variable.
func (e *FieldError) Error() string {
	if e.Var == "" {
		return e.Field + ": " + e.Msg
	}
	return e.Var + ": " + e.Msg + " (field " + e.Field + ")"
}

// Unwrap returns e.Err.
func (e *FieldError) Unwrap() error { return e.Err }
