package gateway

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/portway/portway/internal/lazyre"
)

// uriTemplate is an integration URI after stage variable substitution, with
// {param} placeholders filled per request by the escaped path parameter
// values (so "{proxy}" receives the greedy match with its escapes intact).
type uriTemplate struct {
	parts []uriPart
}

type uriPart struct {
	text  string
	param string // placeholder name; text is empty then
}

var placeholderRe = lazyre.New(`\{([A-Za-z0-9._-]+)\}`)

func parseURITemplate(s string) (*uriTemplate, error) {
	t := &uriTemplate{}
	last := 0
	for _, m := range placeholderRe().FindAllStringSubmatchIndex(s, -1) {
		if m[0] > last {
			t.parts = append(t.parts, uriPart{text: s[last:m[0]]})
		}
		t.parts = append(t.parts, uriPart{param: s[m[2]:m[3]]})
		last = m[1]
	}
	if last < len(s) {
		t.parts = append(t.parts, uriPart{text: s[last:]})
	}
	// The scheme and host must be fixed: placeholders only in path or query.
	probe := placeholderRe().ReplaceAllString(s, "x")
	u, err := url.Parse(probe)
	if err != nil {
		return nil, fmt.Errorf("not a valid URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("must be an absolute http:// or https:// URL, got %q", s)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("must have a host and no user info or fragment, got %q", s)
	}
	if loc := placeholderRe().FindStringIndex(s); loc != nil {
		authorityEnd := len(u.Scheme) + len("://") + len(u.Host)
		if loc[0] < authorityEnd || !strings.HasPrefix(s[authorityEnd:], "/") {
			return nil, fmt.Errorf("placeholders are only allowed in the path or query, got %q", s)
		}
	}
	return t, nil
}

func (t *uriTemplate) params() []string {
	var names []string
	for _, p := range t.parts {
		if p.param != "" {
			names = append(names, p.param)
		}
	}
	return names
}

// expand fills placeholders and parses the result, keeping escapes as given.
func (t *uriTemplate) expand(params []param) (*url.URL, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.param == "" {
			b.WriteString(p.text)
			continue
		}
		for _, v := range params {
			if v.name == p.param {
				b.WriteString(v.value)
				break
			}
		}
	}
	return url.Parse(b.String())
}
