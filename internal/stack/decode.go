package stack

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// checkShape walks a stack file's YAML against the Config type before it
// is decoded, so that a misspelt field or a value of the wrong kind is
// reported by its YAML path and in the file's terms
// (`nlb.targetGroups[0].heathCheck: unknown field; did you mean
// healthCheck?`), never by a Go type name as yaml.v3 words it. What it does
// not recognise it leaves to the decoder.
func checkShape(doc *yaml.Node) error {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	var errs []error
	walkShape(doc.Content[0], reflect.TypeOf(Config{}), "", &errs)
	return errors.Join(errs...)
}

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	textType        = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

func walkShape(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode || n.Tag == "!!null" {
		return
	}
	if pt := reflect.PointerTo(t); pt.Implements(unmarshalerType) || pt.Implements(textType) {
		return // the type checks its own values
	}
	fail := func(format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("%s: %s (line %d)", orTop(path), fmt.Sprintf(format, args...), n.Line))
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			fail("must be a mapping of fields, not %s", describe(n))
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			f, ok := fields[key.Value]
			if !ok {
				msg := fmt.Sprintf("%s: unknown field", join(path, key.Value))
				if s := suggest(key.Value, fields); s != "" {
					msg += "; did you mean " + s + "?"
				}
				*errs = append(*errs, fmt.Errorf("%s (line %d)", msg, key.Line))
				continue
			}
			walkShape(val, f.Type, join(path, key.Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			fail("must be a list, not %s", describe(n))
			return
		}
		for i, item := range n.Content {
			walkShape(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			fail("must be a mapping, not %s", describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkShape(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), errs)
		}
	default:
		if n.Kind != yaml.ScalarNode {
			fail("must be a single value, not %s", describe(n))
			return
		}
		checkScalar(n, t, fail)
	}
}

// checkScalar reports a scalar that cannot become a value of t.
func checkScalar(n *yaml.Node, t reflect.Type, fail func(string, ...any)) {
	v := n.Value
	switch {
	case t == durationType:
		if n.Tag == "!!int" {
			// yaml.v3 takes no bare number for a duration; ECS task
			// definitions count seconds.
			fail("%s is not a duration: a number needs a unit (write it like %ss, 500ms or 5m)", v, v)
			return
		}
		if _, err := time.ParseDuration(v); err != nil {
			fail("%q is not a duration (write it like 500ms, 30s, 5m or 1h)", v)
		}
	case t.Kind() == reflect.Bool:
		switch strings.ToLower(v) {
		case "yes", "no", "on", "off", "y", "n": // YAML 1.1 booleans, which yaml.v3 takes for a bool
			return
		}
		if n.Tag != "!!bool" {
			fail("%q is not true or false", v)
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		if _, err := strconv.ParseInt(v, 0, t.Bits()); err != nil || n.Tag != "!!int" {
			fail("%q is not a whole number", v)
		}
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		if _, err := strconv.ParseUint(v, 0, t.Bits()); err != nil || n.Tag != "!!int" {
			fail("%q is not a whole number of 0 or more", v)
		}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		if n.Tag != "!!int" && n.Tag != "!!float" {
			fail("%q is not a number", v)
		}
	}
}

// yamlFields maps a struct's YAML names to its fields, as yaml.v3 does
// (the tag's name, else the lower-cased Go name; "-" is skipped).
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		m[name] = f
	}
	return m
}

// suggest is the known field closest to name: the same but for case, or
// at most two edits away.
func suggest(name string, fields map[string]reflect.StructField) string {
	best, bestD := "", 3
	for k := range fields {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := editDistance(strings.ToLower(k), strings.ToLower(name)); d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}
