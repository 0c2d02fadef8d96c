package openapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/portway/portway/internal/gateway"
)

// Templates and static header values of mock integration responses and
// gateway responses.

var (
	templateRef     = regexp.MustCompile(`\$!?\{?[A-Za-z][A-Za-z0-9_.]*`)
	templateDirects = regexp.MustCompile(`(^|[^\\])#(set|if|elseif|else|end|foreach|macro|parse|include|define|break|stop|evaluate)\b`)
)

// staticHeaders reads response parameters that set headers to static
// values ('value'); other sources are refused.
func (im *importer) staticHeaders(field, prefix string, raw json.RawMessage) (map[string]string, bool) {
	var params map[string]string
	if json.Unmarshal(raw, &params) != nil {
		im.refuse(field, "must map names to strings")
		return nil, false
	}
	ok := true
	var out map[string]string
	for _, k := range sortedKeys(params) {
		name, isHeader := strings.CutPrefix(k, prefix)
		sm := staticValue.FindStringSubmatch(params[k])
		switch {
		case !isHeader:
			im.refuse(field+"."+k, "only %sNAME is supported", prefix)
			ok = false
		case sm == nil:
			im.refuse(field+"."+k, "%q: only static values ('value') are supported", params[k])
			ok = false
		default:
			if out == nil {
				out = map[string]string{}
			}
			out[name] = sm[1]
		}
	}
	return out, ok
}

// responseTemplate picks the application/json template (else the only
// one) and checks that the gateway can render it.
func (im *importer) responseTemplate(field string, raw json.RawMessage, errorsAllowed bool) (body, contentType string, ok bool) {
	var tmpls map[string]string
	if json.Unmarshal(raw, &tmpls) != nil {
		im.refuse(field, "must map content types to templates")
		return "", "", false
	}
	ct, t := pickTemplate(tmpls)
	if ct == "" {
		return "", "", true
	}
	if len(tmpls) > 1 {
		im.note(field, "the %s template is used for every request (portway does not choose by Accept)", ct)
	}
	if err := checkTemplate(t, errorsAllowed); err != nil {
		im.refuse(field+"."+ct, "%v", err)
		return "", "", false
	}
	return t, ct, true
}

func pickTemplate(tmpls map[string]string) (contentType, template string) {
	if t, ok := tmpls["application/json"]; ok {
		return "application/json", t
	}
	keys := sortedKeys(tmpls)
	if len(keys) == 0 {
		return "", ""
	}
	return keys[0], tmpls[keys[0]]
}

// checkTemplate accepts templates whose only variables are the $context
// ones the gateway fills; Velocity logic and $input/$util are refused.
func checkTemplate(t string, errorsAllowed bool) error {
	if m := templateDirects.FindStringSubmatch(t); m != nil {
		return fmt.Errorf("template logic (#%s) is not supported", m[2])
	}
	for _, ref := range templateRef.FindAllString(t, -1) {
		name := strings.NewReplacer("$!", "$", "{", "").Replace(ref)
		name = strings.TrimSuffix(name, ".")
		if slices.Contains(gateway.TemplateVariables(errorsAllowed), name) {
			continue
		}
		return fmt.Errorf("%s is not supported in templates (only %s)", ref, strings.Join(gateway.TemplateVariables(errorsAllowed), ", "))
	}
	return nil
}

// gatewayResponses reads x-amazon-apigateway-gateway-responses.
func (im *importer) gatewayResponses(field string, raw json.RawMessage) map[string]gateway.ResponseTemplate {
	var all map[string]map[string]json.RawMessage
	if json.Unmarshal(raw, &all) != nil {
		im.refuse(field, "must map response types to responses")
		return nil
	}
	known := map[string]bool{}
	for _, t := range gateway.ResponseTypes() {
		known[t] = true
	}
	out := map[string]gateway.ResponseTemplate{}
	for _, typ := range sortedKeys(all) {
		f := field + "." + typ
		if !known[typ] {
			im.refuse(f, "unknown gateway response type")
			continue
		}
		var rt gateway.ResponseTemplate
		for _, key := range sortedKeys(all[typ]) {
			v := all[typ][key]
			switch key {
			case "statusCode":
				n, err := statusCode(v)
				if err != nil {
					im.refuse(f+"."+key, "%v", err)
				}
				rt.StatusCode = n
			case "responseParameters":
				h, _ := im.staticHeaders(f+"."+key, "gatewayresponse.header.", v)
				for k, hv := range h {
					if rt.Headers == nil {
						rt.Headers = map[string]string{}
					}
					rt.Headers[k] = hv
				}
			case "responseTemplates":
				body, ct, _ := im.responseTemplate(f+"."+key, v, true)
				rt.Body = body
				if ct != "" && !strings.EqualFold(ct, "application/json") {
					if rt.Headers == nil {
						rt.Headers = map[string]string{}
					}
					rt.Headers["Content-Type"] = ct
				}
			case "defaultResponse":
			default:
				im.refuse(f+"."+key, "unknown gateway response field")
			}
		}
		out[typ] = rt
	}
	return out
}
