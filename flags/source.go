package flags

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Source is where a [Provider] reads its flags: a file ([FileSource]) or
// environment variables ([EnvSource]). The zero Source is invalid;
// [NewProvider] panics on it. A Source is a small value, safe to copy.
type Source struct {
	path   string // FileSource
	prefix string // EnvSource
}

// FileSource reads flags from the file at path, in the format described in
// the package documentation: YAML if path ends in ".yaml" or ".yml", JSON
// otherwise. [Provider.Run] reloads the file when its
// modification time or size changes and [Provider.Reload] re-reads it on
// demand; a file whose content is invalid is rejected whole and the last good
// flags stay in use. Panics if path is empty.
func FileSource(path string) Source {
	if path == "" {
		panic("flags.FileSource: path is empty; pass the flag file's path")
	}
	return Source{path: path}
}

// EnvSource reads one static flag from each environment variable whose name
// starts with prefix: the rest of the name, lower-cased with "_" turned into
// "-", is the flag key, and the value is typed as JSON when it parses as a
// JSON boolean, number, string, object or array, and is a string otherwise.
// With prefix "FLAG_", FLAG_NEW_CHECKOUT=true is the boolean flag
// "new-checkout", FLAG_MAX_ITEMS=20 the integer flag "max-items", and
// FLAG_THEME=dark the string flag "theme". Environment flags have one value,
// no rules and no variant name; they evaluate with reason STATIC. The
// environment is read by [NewProvider] and by [Provider.Reload]; [Provider.Run]
// does not poll it, since a process's environment does not change from
// outside. Panics if prefix is empty (every variable would be a flag).
func EnvSource(prefix string) Source {
	if prefix == "" {
		panic(`flags.EnvSource: prefix is empty; pass a prefix such as "FLAG_"`)
	}
	return Source{prefix: prefix}
}

// String returns "file:PATH" or "env:PREFIX*", as logged and reported in
// [Status].
func (s Source) String() string {
	switch {
	case s.path != "":
		return "file:" + s.path
	case s.prefix != "":
		return "env:" + s.prefix + "*"
	}
	return "invalid"
}

// fileStamp is what a poll compares before reading the file again.
type fileStamp struct {
	mod  time.Time
	size int64
}

// stat returns the file's stamp. It follows symbolic links, so a file
// replaced by switching a link (as Kubernetes does for mounted ConfigMaps)
// is seen as changed. Anything but a regular file is an error: reading a
// named pipe or a device could block the reload forever.
func (s Source) stat() (fileStamp, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fileStamp{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileStamp{}, fmt.Errorf("%s is not a regular file (mode %v)", s.path, fi.Mode().Type())
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

// readFile reads the whole file, refusing one larger than maxDocumentSize.
func (s Source) readFile() ([]byte, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDocumentSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxDocumentSize {
		return nil, fmt.Errorf("file is larger than the %d-byte limit", maxDocumentSize)
	}
	return data, nil
}

// isYAML reports whether a file source holds YAML, by its extension.
func (s Source) isYAML() bool {
	ext := strings.ToLower(filepath.Ext(s.path))
	return ext == ".yaml" || ext == ".yml"
}

// parse parses a file's content: YAML if the path ends in .yaml or .yml,
// JSON otherwise. The version is the hash of the bytes as read.
func (s Source) parse(data []byte) (*ruleset, error) {
	doc := data
	if s.isYAML() {
		var err error
		if doc, err = yamlToJSON(data); err != nil {
			return nil, err
		}
	}
	rs, err := parseDocument(doc)
	if err != nil {
		return nil, err
	}
	rs.version = hashHex(data)
	return rs, nil
}

// parseEnv builds the flags of an EnvSource from environ ("NAME=value"
// entries, as os.Environ returns).
func parseEnv(prefix string, environ []string) (*ruleset, error) {
	var lines []string
	for _, kv := range environ {
		if strings.HasPrefix(kv, prefix) {
			lines = append(lines, kv)
		}
	}
	sort.Strings(lines)
	rs := &ruleset{flags: make(map[string]*flag, len(lines)), version: hashHex([]byte(strings.Join(lines, "\n")))}
	from := make(map[string]string, len(lines))
	for _, kv := range lines {
		name, val, _ := strings.Cut(kv, "=")
		key := strings.ReplaceAll(strings.ToLower(name[len(prefix):]), "_", "-")
		if key == "" {
			return nil, fmt.Errorf("variable %s has no flag name after the prefix", name)
		}
		if prev, dup := from[key]; dup {
			return nil, fmt.Errorf("variables %s and %s both define flag %q", prev, name, key)
		}
		from[key] = name
		v, k := envValue(val)
		rs.flags[key] = &flag{key: key, kind: k, variants: []variant{v}, raw: []byte(val)}
	}
	return rs, nil
}

// envValue types an environment value: JSON when it parses as a JSON value
// other than null, else the string as written.
func envValue(val string) (variant, kind) {
	if json.Valid([]byte(val)) {
		if v, k, err := parseValue(json.RawMessage(val)); err == nil {
			return v, k
		}
	}
	return variant{s: val}, kindString
}
