package main

import (
	"strconv"
	"strings"
)

// promSample is one sample line of the Prometheus text format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// promSamples is a parsed /metrics page.
type promSamples []promSample

// parseProm parses the Prometheus text exposition format leniently: it
// keeps every well-formed sample line and skips comments and anything it
// cannot read. It never fails and never panics, whatever the input.
func parseProm(b []byte) promSamples {
	var out promSamples
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if s, ok := parsePromLine(line); ok {
			out = append(out, s)
		}
	}
	return out
}

func parsePromLine(line string) (promSample, bool) {
	var s promSample
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return s, false
	}
	s.name, line = line[:i], line[i:]
	if line[0] == '{' {
		labels, rest, ok := parsePromLabels(line[1:])
		if !ok {
			return s, false
		}
		s.labels, line = labels, rest
	}
	f := strings.Fields(line)
	if len(f) < 1 || len(f) > 2 {
		return s, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return s, false
	}
	s.value = v
	return s, true
}

// parsePromLabels parses `k="v",k2="v2"}` and returns what follows the
// closing brace.
func parsePromLabels(s string) (map[string]string, string, bool) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return nil, "", false
		}
		if s[0] == '}' {
			return labels, s[1:], true
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return nil, "", false
		}
		key := strings.TrimSpace(s[:eq])
		s = s[eq+2:]
		var val strings.Builder
		closed := false
		for j := 0; j < len(s); j++ {
			c := s[j]
			if c == '\\' && j+1 < len(s) {
				j++
				switch s[j] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[j])
				}
				continue
			}
			if c == '"' {
				s, closed = s[j+1:], true
				break
			}
			val.WriteByte(c)
		}
		if !closed {
			return nil, "", false
		}
		labels[key] = val.String()
		s = strings.TrimPrefix(strings.TrimLeft(s, " \t"), ",")
	}
}

// sum adds the samples named name whose labels include every pair of
// match (alternating keys and values). found reports whether any sample
// matched.
func (ps promSamples) sum(name string, match ...string) (total float64, found bool) {
	for _, s := range ps {
		if s.name != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(match); i += 2 {
			if s.labels[match[i]] != match[i+1] {
				ok = false
				break
			}
		}
		if ok {
			total += s.value
			found = true
		}
	}
	return total, found
}
