package config

import (
	"encoding"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// leaf is one field that holds a value (as opposed to a nested struct).
type leaf struct {
	v       reflect.Value // the field; settable when loading
	sf      reflect.StructField
	path    string // Go path, e.g. "DB.Port" or "Peers[1].Addr"
	prefix  string // env prefix in effect for the field
	key     string // prefix + own key; "" when the field has no own key
	ownKey  string
	tagOpts []string // env tag options after the key
	// group is set for a nested struct, pointer to struct or list of
	// structs that has a validate tag: it is visited after its fields, to
	// be validated (a list's length), never parsed or rendered.
	group bool
}

// secret reports whether the field is tagged secret. A malformed secret tag
// yields true (fail safe) and the parse error.
func (l *leaf) secret() (bool, error) {
	s, ok := l.sf.Tag.Lookup("secret")
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return true, err
	}
	return b, nil
}

// walker visits the leaves of a config struct in field order, following the
// env/v11 rules for nested structs: a struct field without its own parser
// (url.URL, time.Location or an encoding.TextUnmarshaler) is a group whose
// fields get the envPrefix tag appended to the prefix; a non-nil pointer to
// such a struct is followed (a nil one is allocated first when loading with
// env:",init"); a slice of such structs is a list whose element i gets the
// prefix "<envPrefix>_<i>_".
type walker struct {
	// env is the environment when loading, used to size slices of structs;
	// nil when only reading, in which case slices are walked as they are.
	env   map[string]string
	load  bool
	visit func(l leaf)
	// probing holds the struct types whose wanted check is in progress, so
	// that a recursive type (type Node struct{ Next *Node }) ends.
	probing map[reflect.Type]bool
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	urlType             = reflect.TypeFor[url.URL]()
	locationType        = reflect.TypeFor[time.Location]()
	timeType            = reflect.TypeFor[time.Time]()
)

// isGroupType reports whether t (or *t) is a struct that the walker descends
// into rather than parsing it as one value.
func isGroupType(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	if t == urlType || t == locationType || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return false
	}
	return true
}

func splitEnvTag(tag string) (key string, opts []string) {
	parts := strings.Split(tag, ",")
	return parts[0], parts[1:]
}

func hasOpt(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (w *walker) walkStruct(v reflect.Value, prefix, path string) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		f := v.Field(i)
		name := joinPath(path, sf.Name)
		ownKey, opts := splitEnvTag(sf.Tag.Get("env"))
		if ownKey == "-" || hasOpt(opts, "-") {
			continue
		}
		inner := prefix + sf.Tag.Get("envPrefix")
		ft := sf.Type
		if isGroupType(ft) || isStructList(ft) {
			switch {
			case ft.Kind() == reflect.Struct:
				w.walkStruct(f, inner, name)
			case isStructList(ft):
				w.walkList(f, inner, name)
			case !f.IsNil(): // pointer to struct
				w.walkStruct(f.Elem(), inner, name)
			case w.load && (hasOpt(opts, "init") || w.wanted(ft.Elem(), inner)):
				f.Set(reflect.New(ft.Elem()))
				w.walkStruct(f.Elem(), inner, name)
			}
			if _, ok := sf.Tag.Lookup("validate"); ok {
				w.visit(leaf{v: f, sf: sf, path: name, prefix: prefix, group: true})
			}
			continue
		}
		key := ""
		if ownKey != "" {
			key = prefix + ownKey
		}
		w.visit(leaf{v: f, sf: sf, path: name, prefix: prefix, key: key, ownKey: ownKey, tagOpts: opts})
	}
}

// wanted reports whether a nil pointer to the struct type t, whose fields
// are read with prefix, must be allocated and loaded although its field has
// no env:",init": one of its variables (at any depth) is set, even to "".
// A pointer group is optional: present when configured, and then checked
// in full (its required fields included), nil when none of its variables
// is set.
func (w *walker) wanted(t reflect.Type, prefix string) bool {
	if w.probing[t] {
		return false // a recursive type: the outer probe decides
	}
	if w.probing == nil {
		w.probing = map[reflect.Type]bool{}
	}
	w.probing[t] = true
	defer delete(w.probing, t)
	found := false
	probe := walker{env: w.env, load: true, probing: w.probing, visit: func(l leaf) {
		if found || l.group {
			return
		}
		if _, set := w.env[l.key]; set && l.key != "" {
			found = true
		}
	}}
	probe.walkStruct(reflect.New(t).Elem(), prefix, "")
	return found
}

// isStructList reports whether t is []S or *[]S for a group type S.
func isStructList(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && isGroupType(t.Elem())
}

func (w *walker) walkList(f reflect.Value, prefix, path string) {
	if prefix != "" && !strings.HasSuffix(prefix, "_") {
		prefix += "_"
	}
	elemPrefix := func(i int) string { return prefix + strconv.Itoa(i) + "_" }
	elemPath := func(i int) string { return path + "[" + strconv.Itoa(i) + "]" }
	if !w.load {
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				return
			}
			f = f.Elem()
		}
		for i := range f.Len() {
			w.walkStruct(f.Index(i), elemPrefix(i), elemPath(i))
		}
		return
	}
	// Like env/v11: the list has as many elements as there are consecutive
	// indexes, from 0, with at least one variable set.
	n := 0
	for {
		p := elemPrefix(n)
		found := false
		for k := range w.env {
			if strings.HasPrefix(k, p) {
				found = true
				break
			}
		}
		if !found {
			break
		}
		n++
	}
	if n == 0 {
		return
	}
	st := f.Type()
	if st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	list := reflect.MakeSlice(st, n, n)
	for i := range n {
		w.walkStruct(list.Index(i), elemPrefix(i), elemPath(i))
	}
	if f.Kind() == reflect.Pointer {
		p := reflect.New(st)
		p.Elem().Set(list)
		list = p
	}
	f.Set(list)
}
