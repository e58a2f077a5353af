// Package flags provides an in-process OpenFeature provider: typed feature
// flags from a JSON or YAML file or from environment variables, with targeting rules
// on evaluation-context attributes, percentage rollouts that are sticky per
// targeting key, and hot reload of the file.
//
// Most services need [NewProvider] with a [FileSource], registered with the
// OpenFeature SDK (github.com/open-feature/go-sdk), and [Provider.Run] among
// the service's lifecycle components. Call sites evaluate flags through the
// SDK's client, so they stay the same if the service later moves to a hosted
// provider:
//
//	p := flags.NewProvider(flags.FileSource("/etc/app/flags.json"))
//	if err := openfeature.SetProviderAndWait(p); err != nil { ... } // the file was invalid
//	client := openfeature.NewDefaultClient()
//	...
//	on := client.Boolean(ctx, "new-checkout", false,
//		openfeature.NewEvaluationContext(userID, map[string]any{"country": "FR"}))
//
// # File format
//
// The file is one JSON object with a "flags" object that maps each flag key
// to its definition. Unknown fields are errors, so a misspelt field rejects
// the file instead of silently changing behaviour. JSON has no comments; each
// flag may carry a "description" string, which evaluation ignores. A file
// whose name ends in ".yaml" or ".yml" is read as YAML with the same
// structure, comments allowed (anchors and aliases are refused, and an
// unquoted date is a string); testdata/flags.yaml is a commented example.
// This example is the package's testdata/flags.json, shortened, with
// comments that the real file cannot have:
//
//	{
//	  "flags": {
//	    "new-checkout": {
//	      "description": "on for beta testers, 20% of French users, 5% of the rest",
//	      "variants": {"on": true, "off": false},   // name -> value; all of one type
//	      "default": "off",                        // served when no rule matches
//	      "salt": "2026-12",                       // optional; change it to reshuffle rollouts
//	      "rules": [                               // the first rule that matches wins
//	        {"when": [{"attr": "beta", "op": "in", "values": [true]}], "variant": "on"},
//	        {"when": [{"attr": "country", "op": "in", "values": ["FR"]}],
//	         "rollout": [{"variant": "on", "weight": 20}, {"variant": "off", "weight": 80}]}
//	      ],
//	      "rollout": [{"variant": "on", "weight": 5}, {"variant": "off", "weight": 95}]
//	    },                                         // ^ for contexts no rule matched
//	    "max-items": {
//	      "variants": {"small": 20, "large": 200},
//	      "default": "small",
//	      "rules": [{"when": [{"attr": "plan", "op": "in", "values": ["pro", "enterprise"]}],
//	                 "variant": "large"}]
//	    },
//	    "legacy-export": {"disabled": true, "variants": {"on": true, "off": false}, "default": "on"}
//	  }
//	}
//
// A flag's type comes from its variants: booleans, strings, integers (every
// variant a number without fraction or exponent), floats (numbers, at least
// one with a fraction or exponent) or objects (JSON objects or arrays). Mixed
// types are an error. An integer flag can also be evaluated as a float.
//
// A rule's "when" is a list of conditions that must all hold. Each names an
// evaluation-context attribute ("attr"; "targetingKey" is the targeting key),
// an "op" and its "values":
//
//   - in, not_in: the attribute equals one of the values (strings, numbers or
//     booleans; no conversion between them, so "5" is not 5);
//   - starts_with, ends_with: the attribute is a string with one of the
//     string values as prefix or suffix;
//   - lt, lte, gt, gte: the attribute is a number less than (or equal to,
//     greater than, ...) the single number in values;
//   - present: the attribute is set; takes no values.
//
// A condition on an attribute the context does not have is false, whatever
// its op: not_in does not match a context that lacks the attribute.
//
// A rule serves a "variant" or a "rollout", not both. A rollout is a list of
// variants with integer weights (0 to 10^9); a subject's share of the total
// is fixed by its targeting key (see [Bucket], which documents the hash so
// other languages can reproduce it). The flag's own "rollout", if present,
// applies to contexts no rule matched; without it they get "default".
//
// # Reasons and errors
//
// Each evaluation reports an OpenFeature reason and, except on errors, for
// disabled flags and for environment flags, the variant's name:
//
//   - STATIC: the flag has no rules and no rollout;
//   - TARGETING_MATCH: a rule served its variant;
//   - SPLIT: a rollout (a rule's or the flag's) chose the variant;
//   - DEFAULT: the flag has rules, none matched, and it has no rollout;
//   - DISABLED: the flag is "disabled"; the caller's default value is returned
//     (a type mismatch is still reported as one);
//   - ERROR: the caller's default value is returned with an error code:
//     FLAG_NOT_FOUND (no such flag), TYPE_MISMATCH (a boolean flag evaluated
//     as a string, for example), TARGETING_KEY_MISSING (the flag needs a
//     rollout and the context has no targeting key: a rollout cannot be
//     sticky without one), PROVIDER_NOT_READY (no flags were ever loaded).
//
// # Reload
//
// The flags in use are an immutable snapshot behind an atomic pointer, so a
// reload swaps them whole: no evaluation sees half a file. [Provider.Run]
// polls a file source's modification time and size and re-reads it when they
// change; a SHA-256 of the content keeps an unchanged file from counting as
// a change. A file that fails to parse or validate is rejected whole: the
// last good flags stay in use, and the failure is logged (Error), counted
// (chassis.flags.reloads, chassis.outcome=failure), kept in
// [Provider.Status] for the admin page, and sent to the SDK as a
// PROVIDER_ERROR event. A good load after that sends PROVIDER_READY, and a
// load that changed flags sends PROVIDER_CONFIGURATION_CHANGED naming them.
// Write the file atomically (write a temporary file, then rename it), or a
// poll may read it half-written; that load is rejected and the next poll
// picks up the complete file. Symbolic links are followed, so a Kubernetes
// ConfigMap mounted as a volume reloads when its link is switched.
//
// # Telemetry
//
// The Provider's hook (run by the SDK for every evaluation of its flags)
// increments chassis.flags.evaluations with the attributes feature_flag.key,
// feature_flag.result.reason, feature_flag.result.variant and error.type,
// and adds a feature_flag.evaluation event with the same attributes and
// feature_flag.provider.name to the caller's span when it is recording.
// Nothing from the evaluation context is recorded: targeting keys are user
// ids. Flag keys are recorded as given, so evaluate flags by constant keys.
package flags
