package ingests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/portway/portway/internal/storage/api"
	"github.com/portway/portway/internal/storage/model"
)

// Request is a validated POST /ingests body.
type Request struct {
	Type               model.IngestType
	Space              string
	ExternalIdentifier string
	SourceLocation     model.Location
	CallbackURL        string // "" when absent
}

// DecodeRequest parses and validates a POST /ingests body. Its error is a
// 400 *api.Error naming the JSON path of the first problem found, checking
// fields in the order ingestType, space, sourceLocation, bag, callback.
// Unknown fields (and the "type" fields) are ignored, as by the real
// service.
func DecodeRequest(body []byte) (Request, error) {
	root, err := parseJSON(body)
	if err != nil {
		return Request{}, err
	}
	o, err := asObject(root, "")
	if err != nil {
		return Request{}, err
	}
	var req Request

	ingestType, err := o.object("ingestType")
	if err != nil {
		return Request{}, err
	}
	t, err := ingestType.str("id")
	if err != nil {
		return Request{}, err
	}
	switch model.IngestType(t) {
	case model.IngestCreate, model.IngestUpdate:
		req.Type = model.IngestType(t)
	default:
		return Request{}, unrecognised(ingestType.at("id"), t, model.IngestTypes)
	}

	space, err := o.object("space")
	if err != nil {
		return Request{}, err
	}
	if req.Space, err = space.str("id"); err != nil {
		return Request{}, err
	}
	if msg := model.CheckSpace(req.Space); msg != "" {
		return Request{}, invalid(space.at("id"), msg)
	}

	loc, err := o.object("sourceLocation")
	if err != nil {
		return Request{}, err
	}
	provider, err := loc.object("provider")
	if err != nil {
		return Request{}, err
	}
	pid, err := provider.str("id")
	if err != nil {
		return Request{}, err
	}
	p, ok := model.ParseProvider(pid)
	if !ok {
		return Request{}, unrecognised(provider.at("id"), pid, model.Providers)
	}
	req.SourceLocation.Provider = p
	if req.SourceLocation.Bucket, err = loc.str("bucket"); err != nil {
		return Request{}, err
	}
	switch b := req.SourceLocation.Bucket; {
	case b == "":
		return Request{}, invalid(loc.at("bucket"), "must not be empty")
	case strings.Contains(b, "/"):
		return Request{}, invalid(loc.at("bucket"), "must not contain slashes")
	}
	if req.SourceLocation.Path, err = loc.str("path"); err != nil {
		return Request{}, err
	}
	if req.SourceLocation.Path == "" {
		return Request{}, invalid(loc.at("path"), "must not be empty")
	}

	bag, err := o.object("bag")
	if err != nil {
		return Request{}, err
	}
	info, err := bag.object("info")
	if err != nil {
		return Request{}, err
	}
	if req.ExternalIdentifier, err = info.str("externalIdentifier"); err != nil {
		return Request{}, err
	}
	if msg := model.CheckExternalIdentifier(req.ExternalIdentifier); msg != "" {
		return Request{}, invalid(info.at("externalIdentifier"), msg)
	}

	if v, present := o.m["callback"]; present && v != nil {
		cb, err := asObject(v, o.at("callback"))
		if err != nil {
			return Request{}, err
		}
		if req.CallbackURL, err = cb.str("url"); err != nil {
			return Request{}, err
		}
		if msg := checkCallbackURL(req.CallbackURL); msg != "" {
			return Request{}, invalid(cb.at("url"), msg)
		}
	}
	return req, nil
}

// checkCallbackURL checks a callback URL's form only. Where it may point
// is decided when the worker connects, on the address it connects to (see
// package egress): resolving the name here would prove nothing about the
// address it resolves to then.
func checkCallbackURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case len(s) > 2048 || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		return "must be an absolute http or https URL"
	case u.User != nil:
		return "must not contain a user name or password"
	}
	return ""
}

// parseJSON decodes exactly one JSON value, numbers kept as json.Number.
func parseJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, malformed(body, err, dec.InputOffset())
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err == nil {
			off := dec.InputOffset()
			return nil, malformedAt(body, "unexpected data after the JSON value", off-1)
		}
		return nil, malformed(body, err, dec.InputOffset())
	}
	return v, nil
}

func malformed(body []byte, err error, inputOffset int64) *api.Error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		// Offset is the number of bytes read when the bad byte was found.
		return malformedAt(body, syn.Error(), syn.Offset-1)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return malformedAt(body, "unexpected end of input", int64(len(body)))
	default:
		return malformedAt(body, err.Error(), inputOffset)
	}
}

// malformedAt is the real service's "The request content was malformed"
// description with the 1-based line and column of byte offset off.
func malformedAt(body []byte, msg string, off int64) *api.Error {
	off = max(0, min(off, int64(len(body))))
	line, col := 1, 1
	for _, c := range body[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return api.BadRequest(fmt.Sprintf("The request content was malformed:\n%s (line %d, column %d)", msg, line, col))
}

// object is a JSON object and the path at which it was found ("" = root).
type object struct {
	path string
	m    map[string]any
}

func (o object) at(name string) string { return o.path + "." + name }

func asObject(v any, path string) (object, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return object{}, wrongType(path, "object", v)
	}
	return object{path: path, m: m}, nil
}

func (o object) get(name string) (any, error) {
	v, ok := o.m[name]
	if !ok {
		return nil, missing(o.at(name))
	}
	return v, nil
}

func (o object) object(name string) (object, error) {
	v, err := o.get(name)
	if err != nil {
		return object{}, err
	}
	return asObject(v, o.at(name))
}

func (o object) str(name string) (string, error) {
	v, err := o.get(name)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", wrongType(o.at(name), "string", v)
	}
	return s, nil
}

func missing(path string) *api.Error {
	return api.BadRequest(fmt.Sprintf("Invalid value at %s: required property not supplied.", path))
}

func invalid(path, msg string) *api.Error {
	return api.BadRequest(fmt.Sprintf("Invalid value at %s: %s.", path, msg))
}

func unrecognised[T ~string](path, got string, valid []T) *api.Error {
	names := make([]string, len(valid))
	for i, v := range valid {
		names[i] = string(v)
	}
	return api.BadRequest(fmt.Sprintf("Unrecognised value at %s: got %s, valid values are: %s.",
		path, quote(got), strings.Join(names, ", ")))
}

func wrongType(path, want string, v any) *api.Error {
	if path == "" {
		path = "."
	}
	return api.BadRequest(fmt.Sprintf("Invalid type at %s: expected %s, got %s.", path, want, jsonType(v)))
}

// quote renders a client-supplied value for an error message: JSON-style
// quotes, and long values cut short.
func quote(s string) string {
	const limit = 100
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit]) + "…"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
