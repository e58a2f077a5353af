// Package config loads environment variables into a typed struct, validates
// them and renders the result for logging with secrets redacted.
//
// Most services call [MustLoad] once in main and log [Redacted]:
//
//	type Config struct {
//		Port     int           `env:"PORT" envDefault:"8080" validate:"min=1,max=65535"`
//		LogLevel slog.Level    `env:"LOG_LEVEL" envDefault:"info"` // parses itself: debug, warn+2...
//		Timeout  time.Duration `env:"TIMEOUT" envDefault:"5s" validate:"min=1ms"`
//		APIKey   string        `env:"API_KEY,required" secret:"true" validate:"min=32"`
//		DB       struct {
//			URL url.URL `env:"URL,required" secret:"true"`
//		} `envPrefix:"DB_"`
//	}
//
//	cfg := config.MustLoad[Config](config.WithPrefix("APP_"))
//	logger.Info("starting", "config", config.Redacted(cfg, config.WithPrefix("APP_")))
//
// # Tags
//
// Parsing is done by [github.com/caarlos0/env/v11], so its tags apply:
// env:"NAME" with the options required, notEmpty, file, expand, init and unset;
// envDefault, envSeparator and envKeyValSeparator for slices and maps, and
// envPrefix on a nested struct field. Supported field types are those of
// env/v11: strings, booleans, numbers, time.Duration, url.URL, time.Location,
// any encoding.TextUnmarshaler, and slices, maps and pointers of them.
//
// A struct field that has no parser of its own is a nested group: its fields
// are read with the field's envPrefix appended to the current prefix. A slice
// of such structs reads element i from variables prefixed "<envPrefix>_<i>_".
//
// A pointer to such a struct is an optional group: Load allocates and loads
// it when at least one of its variables (at any depth) is set, even to "",
// and then checks it in full, so a partly configured group reports its
// missing required fields; when none is set it stays nil and its required
// fields are not checked. With env:",init" it is always allocated, like a
// value field. (env/v11 alone leaves it nil whatever is set.)
//
// # Empty values and lists
//
// A variable set to "" counts as unset where a default exists: envDefault
// applies. Without a default the field gets its zero value ("" parses as an
// empty list, not as a list of one empty element), and required still
// passes, which is what notEmpty is for. Only "" is empty: "  " is a string
// of two spaces, and not a number.
//
// In a list (a slice field, split on envSeparator, "," by default) each
// element is trimmed of surrounding spaces, so "a, b" is [a b] and "1, 2"
// parses as []int; an empty element ("a,,b", a leading or trailing
// separator, "a, ,b") is an error rather than a silent "" or 0. The same
// rules apply to envDefault. Maps are split as env/v11 does, without
// trimming.
//
// # Integers
//
// int and uint fields (and named types, slices and pointers of them) take
// the platform's full width: 64 bits on 64-bit platforms, unlike env/v11
// alone, which parses them as 32-bit numbers. A value beyond the type's
// range is a parse error ("value out of range"), never a silent wrap.
//
// config adds two tags:
//
//   - secret:"true" marks a field whose value must never be shown: error
//     messages describe the problem without the value, and [Redacted] shows
//     "[REDACTED]".
//   - validate:"rules" checks the parsed value. Rules are separated by commas:
//     min=N and max=N bound numbers, durations (min=1s) and lengths (of
//     strings in characters, of slices and maps in elements); oneof=a|b|c
//     requires one of the listed values (strings and integers; for a slice,
//     each element); pattern=RE requires a match of the regular expression
//     RE (see [regexp/syntax]; unanchored unless RE uses ^ and $; for a slice
//     of strings, each element); omitempty skips the other rules when the
//     value is the zero value. pattern must be the last rule, because it
//     takes the rest of the tag, commas included. A nil pointer is not
//     checked. On a slice of nested structs, min and max bound the number of
//     elements. Without omitempty, an unset field is checked as its zero value:
//     validate:"min=1" on an unset int reports 0 is less than min=1.
//
// # Errors
//
// [Load] reports every problem at once in an *[Error]. Its text has one
// problem per line, each naming the variable and the Go field:
//
//	config: 3 problems:
//		APP_API_KEY: required but not set (field APIKey)
//		APP_PORT: "80a" is not a valid int: invalid syntax (field Port)
//		APP_LOG_LEVEL: "verbose" is not a valid slog.Level: slog: level string "verbose": unknown name (field LogLevel)
//
// A malformed tag is reported the same way, with the rule [RuleValidateTag],
// [RuleSecretTag] or [RuleEnvTag], so that a typo is found by the first test
// that loads the struct instead of by a panic in production.
//
// # Logging the configuration
//
// [Redacted] renders a loaded struct for logging: secret fields show
// "[REDACTED]", and URLs (url.URL fields and strings holding an absolute
// URL) have their password and secret-looking query parameters (password=,
// token=, key=, secret= and similar) masked as a safety net.
package config
