package gateway

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/portway/portway/internal/lazyre"
)

// Stages and custom domains. A request is placed on a stage in one of two
// ways, decided by its Host (lower-cased, port and a trailing dot ignored):
//   - the Host is a custom domain: the longest base path mapping whose
//     segments prefix the normalized path wins, "(none)" catching the rest;
//     the stage is not part of the URL. No mapping: 403 {"message":"Forbidden"}
//     (ForbiddenException), as AWS answers before any API is selected, so the
//     API's gateway responses do not apply to it.
//   - any other host the gateway serves (hosts.go): the invoke URL form
//     /{stage}/...; an unknown stage is 403 MISSING_AUTHENTICATION_TOKEN, as
//     for an unknown resource.

var (
	// A host name: dot-separated labels of letters, digits and inner hyphens.
	domainLabelRe = lazyre.New(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// A base path segment: AWS allows letters, digits and $-_.+!*'().
	basePathSegRe = lazyre.New(`^[A-Za-z0-9$\-_.+!*'()]+$`)
)

// stageList is every stage: the Stage/StageVariables shorthand first, then Stages.
func (c Config) stageList() []Stage {
	var out []Stage
	if c.Stage != "" {
		out = append(out, Stage{Name: c.Stage, Variables: c.StageVariables})
	}
	return append(out, c.Stages...)
}

func validateStages(c Config) []error {
	var errs []error
	add := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if c.Stage != "" || len(c.Stages) == 0 {
		if !stageRe().MatchString(c.Stage) {
			add("stage", "must be 1-128 characters of A-Z a-z 0-9 _ -, got %q (or use stages)", c.Stage)
		}
	}
	if c.Stage == "" && len(c.StageVariables) > 0 {
		add("stageVariables", "only allowed with stage; use stages[].variables")
	}
	errs = append(errs, validateStageVars("stageVariables", c.StageVariables)...)
	names := map[string]string{}
	if c.Stage != "" {
		names[c.Stage] = "stage"
	}
	for i, st := range c.Stages {
		f := fmt.Sprintf("stages[%d]", i)
		if !stageRe().MatchString(st.Name) {
			add(f+".name", "must be 1-128 characters of A-Z a-z 0-9 _ -, got %q", st.Name)
		} else if prev, dup := names[st.Name]; dup {
			add(f+".name", "%q is already defined by %s", st.Name, prev)
		} else {
			names[st.Name] = f
		}
		errs = append(errs, validateStageVars(f+".variables", st.Variables)...)
		if st.Throttle != nil {
			errs = append(errs, validateThrottle(f+".throttle", *st.Throttle)...)
		}
	}
	return errs
}

func validateStageVars(field string, vars map[string]string) []error {
	var errs []error
	for _, name := range sortedKeys(vars) {
		if !stageVarName().MatchString(name) {
			errs = append(errs, fmt.Errorf("%s.%s: name must be 1-64 characters of A-Z a-z 0-9 _", field, name))
		}
		if !stageVarValue().MatchString(vars[name]) {
			errs = append(errs, fmt.Errorf("%s.%s: value must be at most 512 characters of A-Z a-z 0-9 - . _ ~ : / ? # & = ,", field, name))
		}
	}
	return errs
}

func validateDomains(domains []Domain, stages []Stage) []error {
	var errs []error
	add := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	known := map[string]bool{}
	for _, st := range stages {
		known[st.Name] = true
	}
	seen := map[string]string{}
	for i, d := range domains {
		f := fmt.Sprintf("domains[%d]", i)
		name := strings.ToLower(d.Name)
		if err := checkDomainName(name); err != nil {
			add(f+".name", "%v", err)
		} else if prev, dup := seen[name]; dup {
			add(f+".name", "%q is already defined by %s", d.Name, prev)
		} else {
			seen[name] = f
		}
		if len(d.Mappings) == 0 {
			add(f+".mappings", "must not be empty")
		}
		paths := map[string]string{}
		for j, m := range d.Mappings {
			mf := fmt.Sprintf("%s.mappings[%d]", f, j)
			segs, err := splitBasePath(m.BasePath)
			if err != nil {
				add(mf+".basePath", "%v", err)
			} else if key := strings.Join(segs, "/"); paths[key] != "" {
				add(mf+".basePath", "%q is already mapped by %s", m.BasePath, paths[key])
			} else {
				paths[key] = mf
			}
			if !known[m.Stage] {
				add(mf+".stage", "%q is not a stage", m.Stage)
			}
		}
	}
	return errs
}

func checkDomainName(name string) error {
	if name == "" {
		return fmt.Errorf("must not be empty")
	}
	if len(name) > 253 {
		return fmt.Errorf("must be at most 253 characters")
	}
	if strings.Contains(name, ":") {
		return fmt.Errorf("must be a host name without port, got %q", name)
	}
	for label := range strings.SplitSeq(name, ".") {
		if !domainLabelRe().MatchString(label) {
			return fmt.Errorf("must be a host name (labels of a-z 0-9 -, separated by dots), got %q", name)
		}
	}
	return nil
}

// splitBasePath returns the segments of a base path; nil for the root.
func splitBasePath(p string) ([]string, error) {
	if p == "" || p == BasePathNone {
		return nil, nil
	}
	if strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return nil, fmt.Errorf("must not start or end with /, got %q (use %q for the root)", p, BasePathNone)
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." || !basePathSegRe().MatchString(s) {
			return nil, fmt.Errorf("invalid segment %q in %q (allowed: A-Z a-z 0-9 $ - _ . + ! * ' ( ), separated by /)", s, p)
		}
	}
	return segs, nil
}

func validateThrottle(field string, t ThrottleConfig) []error {
	var errs []error
	add := func(f, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", field, f, fmt.Sprintf(format, a...)))
	}
	if t.RateLimit < 0 {
		add("rateLimit", "must be >= 0")
	}
	if t.RateLimit > 0 && t.BurstLimit < 1 {
		add("burstLimit", "must be >= 1 when %s.rateLimit is set", field)
	}
	if t.BurstLimit < 0 {
		add("burstLimit", "must be >= 0")
	}
	pc := t.PerClient
	if pc.RateLimit < 0 {
		add("perClient.rateLimit", "must be >= 0")
	}
	if pc.RateLimit > 0 && pc.BurstLimit < 1 {
		add("perClient.burstLimit", "must be >= 1 when %s.perClient.rateLimit is set", field)
	}
	if pc.BurstLimit < 0 {
		add("perClient.burstLimit", "must be >= 0")
	}
	if pc.MaxClients < 0 {
		add("perClient.maxClients", "must be >= 0 (0 = %d)", defaultMaxClients)
	}
	return errs
}

func validateTimeouts(t TimeoutsConfig, resources []Resource) []error {
	var errs []error
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"readHeader", t.ReadHeader}, {"read", t.Read}, {"write", t.Write}, {"idle", t.Idle}} {
		if f.d < 0 {
			errs = append(errs, fmt.Errorf("timeouts.%s: must be >= 0 (0 = default)", f.name))
		}
	}
	longest := longestIntegrationTimeout(resources)
	if t.Write > 0 && t.Write <= longest {
		errs = append(errs, fmt.Errorf("timeouts.write: must exceed the longest integration timeout (%s), got %s", longest, t.Write))
	}
	return errs
}

// basePathMapping is a mapping as used per request.
type basePathMapping struct {
	segs   []string // decoded base path segments; empty for the root
	stage  *stageRT
	prefix string // X-Forwarded-Prefix: "/" + base path
}

// domainTable maps lower-cased host names to their mappings, longest first.
type domainTable map[string][]basePathMapping

func buildDomains(domains []Domain, stages map[string]*stageRT) domainTable {
	t := domainTable{}
	for _, d := range domains {
		var ms []basePathMapping
		for _, m := range d.Mappings {
			segs, _ := splitBasePath(m.BasePath) // validated
			ms = append(ms, basePathMapping{segs: segs, stage: stages[m.Stage], prefix: "/" + strings.Join(segs, "/")})
		}
		sort.SliceStable(ms, func(i, j int) bool { return len(ms[i].segs) > len(ms[j].segs) })
		t[strings.ToLower(d.Name)] = ms
	}
	return t
}

// lookup returns the mappings of the request's Host, or nil when it is not a custom domain.
func (t domainTable) lookup(host string) []basePathMapping {
	if len(t) == 0 {
		return nil
	}
	return t[host]
}

// match picks the longest mapping whose base path prefixes segs (segment-wise).
func matchMapping(ms []basePathMapping, segs []segment) (*basePathMapping, []segment) {
	for i := range ms {
		m := &ms[i]
		if len(m.segs) > len(segs) {
			continue
		}
		ok := true
		for k, s := range m.segs {
			if segs[k].dec != s {
				ok = false
				break
			}
		}
		if ok {
			return m, segs[len(m.segs):]
		}
	}
	return nil, nil
}

// longestIntegrationTimeout is the longest timeout of the methods'
// integrations (0 without methods).
func longestIntegrationTimeout(resources []Resource) time.Duration {
	longest := time.Duration(0)
	for _, r := range resources {
		for _, m := range r.Methods {
			longest = max(longest, orDefault(m.Integration.Timeout, DefaultIntegrationTimeout))
		}
	}
	return longest
}
