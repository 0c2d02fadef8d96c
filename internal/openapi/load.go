package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"
)

// MaxDocumentBytes bounds the documents Import reads.
const MaxDocumentBytes = 16 << 20

// load parses an OpenAPI 3.0 or Swagger 2.0 document, JSON or YAML, into
// kin-openapi's OpenAPI 3 model; a Swagger document is converted (its
// extensions kept where they were). External references are not followed.
func load(data []byte) (doc *openapi3.T, swagger bool, err error) {
	if len(data) > MaxDocumentBytes {
		return nil, false, fmt.Errorf("the document is over %d bytes", MaxDocumentBytes)
	}
	var probe struct {
		Swagger string `yaml:"swagger"`
		OpenAPI string `yaml:"openapi"`
	}
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return nil, false, fmt.Errorf("not JSON or YAML: %w", err)
	}
	switch {
	case probe.Swagger != "":
		if probe.Swagger != "2.0" {
			return nil, true, fmt.Errorf("swagger: %q is not supported (2.0 is)", probe.Swagger)
		}
		jsonData, err := asJSON(data)
		if err != nil {
			return nil, true, err
		}
		var doc2 openapi2.T
		if err := json.Unmarshal(jsonData, &doc2); err != nil {
			return nil, true, fmt.Errorf("swagger document: %w", err)
		}
		doc3, err := openapi2conv.ToV3(&doc2)
		if err != nil {
			return nil, true, fmt.Errorf("swagger document: %w", err)
		}
		return doc3, true, nil
	case probe.OpenAPI != "":
		if len(probe.OpenAPI) < 2 || probe.OpenAPI[:2] != "3." {
			return nil, false, fmt.Errorf("openapi: %q is not supported (3.0 and Swagger 2.0 are)", probe.OpenAPI)
		}
		loader := openapi3.NewLoader() // IsExternalRefsAllowed stays false
		doc, err := loader.LoadFromData(data)
		if err != nil {
			return nil, false, fmt.Errorf("openapi document: %w", err)
		}
		return doc, false, nil
	}
	return nil, false, errors.New("neither an OpenAPI 3 (openapi: 3.x) nor a Swagger 2.0 (swagger: \"2.0\") document")
}

// asJSON turns a JSON or YAML document into JSON.
func asJSON(data []byte) ([]byte, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' && json.Valid(t) {
		return t, nil
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("not JSON or YAML: %w", err)
	}
	return toJSON(v)
}

// toJSON marshals a decoded value, turning YAML's non-string map keys
// (an unquoted response code 200) into strings.
func toJSON(v any) ([]byte, error) {
	return json.Marshal(stringKeys(v))
}

func stringKeys(v any) any {
	switch t := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = stringKeys(e)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = stringKeys(e)
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = stringKeys(e)
		}
		return out
	}
	return v
}
