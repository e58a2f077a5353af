// Package config loads environment variables into a typed struct, validates
// them and renders the result for logging with secrets redacted.
//
// Most services call [MustLoad] once in main and log [Redacted]:
//
//	type Config struct {
//		Port     int           `env:"PORT" envDefault:"8080" validate:"min=1,max=65535"`
//		LogLevel string        `env:"LOG_LEVEL" envDefault:"info" validate:"oneof=debug|info|warn|error"`
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
//		APP_LOG_LEVEL: "verbose" is not one of debug|info|warn|error (field LogLevel)
//
// A malformed tag is reported the same way, with the rule [RuleValidateTag],
// [RuleSecretTag] or [RuleEnvTag], so that a typo is found by the first test
// that loads the struct instead of by a panic in production.
package config
