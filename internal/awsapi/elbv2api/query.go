package elbv2api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// MaxBodyBytes bounds a request body (AWS Query requests are small; the
// largest, RegisterTargets with its 1000 targets at most, fits easily).
const MaxBodyBytes = 1 << 20

// maxMembers bounds a list's index (1000 targets is AWS's largest list).
const maxMembers = 1000

// params are the parameters of one Query request: the form-encoded body of
// a POST together with the URL's query, each key given at most once.
type params map[string]string

// readParams reads r's parameters. Errors are ValidationError.
func readParams(r *http.Request) (params, error) {
	vals := url.Values{}
	if r.URL.RawQuery != "" {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, validation("the query string is not valid URL encoding: %v", err)
		}
		vals = q
	}
	if r.Method == http.MethodPost && r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			return nil, validation("reading the request body: %v", err)
		}
		if len(body) > MaxBodyBytes {
			return nil, validation("the request body is larger than %d bytes", MaxBodyBytes)
		}
		if len(body) > 0 {
			if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
				return nil, validation("Content-Type must be application/x-www-form-urlencoded, not %q", ct)
			}
			b, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, validation("the request body is not valid form encoding: %v", err)
			}
			for k, vs := range b {
				vals[k] = append(vals[k], vs...)
			}
		}
	}
	p := params{}
	for k, vs := range vals {
		if len(vs) > 1 {
			return nil, validation("parameter %s is given %d times", k, len(vs))
		}
		p[k] = vs[0]
	}
	return p, nil
}

// required returns the value of key; missing or empty is the error AWS
// gives for a null member.
func (p params) required(key string) (string, error) {
	v := p[key]
	if v == "" {
		return "", validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null",
			lowerFirst(key))
	}
	return v, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// optInt parses key as an integer when it is present.
func (p params) optInt(key string) (*int, error) {
	v, ok := p[key]
	if !ok {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, validation("Value '%s' at '%s' must be an integer", v, lowerFirst(key))
	}
	return &n, nil
}

// optBool parses key as true/false when it is present.
func (p params) optBool(key string) (*bool, error) {
	v, ok := p[key]
	if !ok {
		return nil, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil || (v != "true" && v != "false") {
		return nil, validation("Value '%s' at '%s' must be true or false", v, lowerFirst(key))
	}
	return &b, nil
}

func (p params) optString(key string) *string {
	if v, ok := p[key]; ok {
		return &v
	}
	return nil
}

// list reads the list prefix.member.1, prefix.member.2, … of strings.
func (p params) list(prefix string) ([]string, error) {
	items, err := p.members(prefix, nil)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(items))
	for i, m := range items {
		out[i] = m[""]
	}
	return out, nil
}

// structs reads the list prefix.member.N.Field of structures whose fields
// are among fields.
func (p params) structs(prefix string, fields ...string) ([]map[string]string, error) {
	if len(fields) == 0 {
		return nil, errors.New("structs needs fields")
	}
	return p.members(prefix, fields)
}

// members reads a list: the items 1..n (no gaps), each a value (fields
// nil, key "") or a structure of the given fields. "prefix=" alone is the
// empty list, as the SDKs send it.
func (p params) members(prefix string, fields []string) ([]map[string]string, error) {
	byIndex := map[int]map[string]string{}
	for k, v := range p {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			if k == prefix && v != "" {
				return nil, validation("parameter %s must be a list: %s.member.1, %s.member.2, …", prefix, prefix, prefix)
			}
			continue
		}
		rest, ok = strings.CutPrefix(rest, "member.")
		if !ok {
			return nil, validation("parameter %s: a list item must be %s.member.N", k, prefix)
		}
		idx, field, hasField := strings.Cut(rest, ".")
		n, err := memberIndex(idx)
		if err != nil {
			return nil, validation("parameter %s: %v", k, err)
		}
		switch {
		case fields == nil && hasField:
			return nil, validation("parameter %s: %s.member.%d is a value, not a structure", k, prefix, n)
		case fields != nil && !hasField:
			return nil, validation("parameter %s: name a field, e.g. %s.member.%d.%s", k, prefix, n, fields[0])
		case fields != nil && !slices.Contains(fields, field):
			return nil, validation("parameter %s: unknown field %q (known: %s)", k, field, strings.Join(fields, ", "))
		}
		if byIndex[n] == nil {
			byIndex[n] = map[string]string{}
		}
		byIndex[n][field] = v
	}
	idxs := make([]int, 0, len(byIndex))
	for n := range byIndex {
		idxs = append(idxs, n)
	}
	sort.Ints(idxs)
	out := make([]map[string]string, 0, len(idxs))
	for i, n := range idxs {
		if n != i+1 {
			return nil, validation("parameter %s.member.%d is given without %s.member.%d (list items count from 1 without gaps)", prefix, n, prefix, i+1)
		}
		out = append(out, byIndex[n])
	}
	return out, nil
}

func memberIndex(s string) (int, error) {
	n, err := strconv.Atoi(s)
	switch {
	case err != nil || s[0] == '+' || s[0] == '-':
		return 0, fmt.Errorf("list index %q is not a number", s)
	case n < 1 || n > maxMembers:
		return 0, fmt.Errorf("list index %d is not within 1..%d", n, maxMembers)
	case s[0] == '0':
		return 0, fmt.Errorf("list index %q has a leading zero", s)
	}
	return n, nil
}
