package gateway

import (
	"fmt"
	"strings"
	"time"

	"github.com/portway/portway/internal/lazyre"
)

// The resource tree. A node's children are literal parts, at most one
// variable part {name} and at most one greedy part {name+}. Matching prefers
// a literal child, then the variable, then the greedy part, backtracking when
// a more specific branch ends without a resource: a specific sibling wins over
// {proxy+}. A greedy part needs at least one segment, so "/bags" matches the
// resource /bags and never /bags/{proxy+}. Only configured resources match;
// intermediate parts of a longer path are not resources by themselves.

var (
	literalPartRe = lazyre.New(`^[A-Za-z0-9._:-]+$`)
	paramNameRe   = lazyre.New(`^[A-Za-z0-9._-]+$`)
)

type pathPart struct {
	literal string // set for literal parts
	param   string // set for {param} and {param+}
	greedy  bool
}

func (p pathPart) String() string {
	switch {
	case p.greedy:
		return "{" + p.param + "+}"
	case p.param != "":
		return "{" + p.param + "}"
	}
	return p.literal
}

// parseResourcePath validates a resource path and returns its parameter names.
func parseResourcePath(path string) ([]string, error) {
	parts, err := splitResourcePath(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range parts {
		if p.param != "" {
			names = append(names, p.param)
		}
	}
	return names, nil
}

func splitResourcePath(path string) ([]pathPart, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("must start with /, got %q", path)
	}
	if path == "/" {
		return nil, nil
	}
	if strings.HasSuffix(path, "/") {
		return nil, fmt.Errorf("must not end with /, got %q", path)
	}
	raw := strings.Split(path[1:], "/")
	parts := make([]pathPart, 0, len(raw))
	seen := map[string]bool{}
	for i, s := range raw {
		var p pathPart
		switch {
		case s == "":
			return nil, fmt.Errorf("empty path part in %q", path)
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if strings.HasSuffix(name, "+") {
				name, p.greedy = name[:len(name)-1], true
				if i != len(raw)-1 {
					return nil, fmt.Errorf("%s must be the last path part", s)
				}
			}
			if !paramNameRe().MatchString(name) {
				return nil, fmt.Errorf("invalid parameter name in %s", s)
			}
			if seen[name] {
				return nil, fmt.Errorf("parameter {%s} is used twice", name)
			}
			seen[name] = true
			p.param = name
		case s == "." || s == ".." || !literalPartRe().MatchString(s):
			return nil, fmt.Errorf("invalid path part %q (allowed: A-Z a-z 0-9 . _ - : or {name} / {name+})", s)
		default:
			p.literal = s
		}
		parts = append(parts, p)
	}
	return parts, nil
}

type node struct {
	literal map[string]*node
	param   *node
	greedy  *node
	name    string // parameter name of this node when it is a param/greedy child
	route   *route // non-nil when a resource ends here
}

type route struct {
	path    string
	methods map[string]*methodRoute
}

type methodRoute struct {
	auth    string
	scopes  []string
	uris    []*uriTemplate // by stage index
	timeout time.Duration
	mock    *MockResponse // MOCK integration: the gateway answers
	mapped  []paramMapping
	ident   string // the header holding the token
	// integMethod is the integration request's method when it is not the
	// client's (Integration.HTTPMethod).
	integMethod string
}

func (rt *route) method(m string) *methodRoute {
	if mr := rt.methods[m]; mr != nil {
		return mr
	}
	return rt.methods[MethodAny]
}

type param struct {
	name  string
	value string // escaped, as forwarded
}

type router struct{ root *node }

// checkTree reports duplicate resources and conflicting variable siblings.
func checkTree(resources []Resource) error {
	_, err := buildTree(resources, nil)
	return err
}

// buildTree builds the tree; build (may be nil) makes the route of resource i.
func buildTree(resources []Resource, build func(i int) *route) (*router, error) {
	root := &node{}
	owner := map[*node]int{} // node → index of the resource that created its variable part
	for i, res := range resources {
		parts, err := splitResourcePath(res.Path)
		if err != nil {
			continue // reported by Validate
		}
		n := root
		for _, p := range parts {
			n, err = n.child(p, i, owner)
			if err != nil {
				return nil, fmt.Errorf("resources[%d].path: %w", i, err)
			}
		}
		if n.route != nil {
			return nil, fmt.Errorf("resources[%d].path: %s is defined twice", i, res.Path)
		}
		n.route = &route{path: res.Path}
		if build != nil {
			n.route = build(i)
		}
	}
	return &router{root: root}, nil
}

func (n *node) child(p pathPart, i int, owner map[*node]int) (*node, error) {
	if p.literal != "" {
		if n.literal == nil {
			n.literal = map[string]*node{}
		}
		c := n.literal[p.literal]
		if c == nil {
			c = &node{}
			n.literal[p.literal] = c
		}
		return c, nil
	}
	existing := n.param
	if existing == nil {
		existing = n.greedy
	}
	if existing != nil {
		if existing.name == p.param && (existing == n.greedy) == p.greedy {
			return existing, nil
		}
		other := pathPart{param: existing.name, greedy: existing == n.greedy}
		return nil, fmt.Errorf("%s conflicts with sibling %s of resources[%d]: only one variable path part per level", p, other, owner[existing])
	}
	c := &node{name: p.param}
	owner[c] = i
	if p.greedy {
		n.greedy = c
	} else {
		n.param = c
	}
	return c, nil
}

// match finds the resource for the segments after the stage.
func (r *router) match(segs []segment) (*route, []param) {
	var params []param
	rt := r.root.match(segs, &params)
	if rt == nil {
		return nil, nil
	}
	return rt, params
}

func (n *node) match(segs []segment, params *[]param) *route {
	if len(segs) == 0 {
		return n.route
	}
	s := segs[0]
	if c := n.literal[s.dec]; c != nil {
		if rt := c.match(segs[1:], params); rt != nil {
			return rt
		}
	}
	if n.param != nil {
		mark := len(*params)
		*params = append(*params, param{name: n.param.name, value: s.raw})
		if rt := n.param.match(segs[1:], params); rt != nil {
			return rt
		}
		*params = (*params)[:mark]
	}
	if n.greedy != nil && n.greedy.route != nil {
		*params = append(*params, param{name: n.greedy.name, value: joinRaw(segs)[1:]})
		return n.greedy.route
	}
	return nil
}

// ValidateResourcePath checks a resource path as Validate does, for tools
// that build resources from other descriptions (the OpenAPI import).
func ValidateResourcePath(path string) error {
	_, err := splitResourcePath(path)
	return err
}
