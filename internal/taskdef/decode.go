package taskdef

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// object is one JSON object being read: the fields taken are remembered,
// so that rest can name the others.
type object struct {
	c    *converter
	path string
	m    map[string]any
	used map[string]bool
}

func (c *converter) object(path string, v any) *object {
	m, ok := v.(map[string]any)
	if !ok {
		c.fail(path, "want an object, got %s", kind(v))
		m = map[string]any{}
	}
	return &object{c: c, path: path, m: m, used: map[string]bool{}}
}

func (o *object) at(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// get takes key; ok is false when it is absent or null.
func (o *object) get(key string) (any, bool) {
	o.used[key] = true
	v, ok := o.m[key]
	return v, ok && v != nil
}

func (o *object) str(key string) string {
	v, ok := o.get(key)
	if !ok {
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		o.c.fail(o.at(key), "want a string, got %s", kind(v))
	}
	return s
}

// integer reads a whole number (or a string of one, as ECS's task-level
// cpu and memory are).
func (o *object) integer(key string) (int, bool) {
	v, ok := o.get(key)
	if !ok {
		return 0, false
	}
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		o.c.fail(o.at(key), "want a number, got %s", kind(v))
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
		o.c.fail(o.at(key), "want a whole number, got %q", s)
		return 0, false
	}
	return int(n), true
}

func (o *object) boolean(key string) (bool, bool) {
	v, ok := o.get(key)
	if !ok {
		return false, false
	}
	b, isBool := v.(bool)
	if !isBool {
		o.c.fail(o.at(key), "want true or false, got %s", kind(v))
	}
	return b, isBool
}

func (o *object) strings(key string) []string {
	v, ok := o.get(key)
	if !ok {
		return nil
	}
	list, isList := v.([]any)
	if !isList {
		o.c.fail(o.at(key), "want a list of strings, got %s", kind(v))
		return nil
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, isStr := e.(string)
		if !isStr {
			o.c.fail(fmt.Sprintf("%s[%d]", o.at(key), i), "want a string, got %s", kind(e))
		}
		out = append(out, s)
	}
	return out
}

// objects calls f with each object of the list at key.
func (o *object) objects(key string, f func(*object)) {
	v, ok := o.get(key)
	if !ok {
		return
	}
	list, isList := v.([]any)
	if !isList {
		o.c.fail(o.at(key), "want a list, got %s", kind(v))
		return
	}
	for i, e := range list {
		item := o.c.object(fmt.Sprintf("%s[%d]", o.at(key), i), e)
		f(item)
		item.rest(nil)
	}
}

// rest notes every field not taken (unless empty): with its reason from
// reasons, or as not supported.
func (o *object) rest(reasons map[string]string) {
	keys := make([]string, 0, len(o.m))
	for k, v := range o.m {
		if !o.used[k] && !empty(v) {
			keys = append(keys, k)
		}
		o.used[k] = true
	}
	slices.Sort(keys)
	for _, k := range keys {
		why, ok := reasons[k]
		if !ok {
			why = "not supported by portway"
		}
		o.c.note(o.at(k), "ignored: %s", why)
	}
}

// empty reports whether v holds nothing to ignore: null, "", [] or {}.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return strings.TrimSpace(fmt.Sprintf("%T", v))
}
