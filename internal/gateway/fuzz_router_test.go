package gateway

import (
	"strings"
	"testing"
)

// FuzzRouter builds a resource tree from fuzzed resource paths and checks the
// router against a brute-force matcher: a request matches iff some resource
// matches, and the one chosen is the most specific (at the first part where
// candidates differ, a literal beats {param}, which beats {proxy+}); path
// parameters are the raw segments the resource's parts cover. The seeds run
// with every `go test`.
func FuzzRouter(f *testing.F) {
	seeds := []struct{ resources, path string }{
		{"/\n/bags\n/bags/{proxy+}", "/bags/a/b"},
		{"/a/b/c\n/a/{proxy+}", "/a/b/c"},
		{"/a/b/c\n/a/{proxy+}", "/a/b/c/d"},
		{"/a/b/c\n/a/{proxy+}", "/a/b"},
		{"/x/{id}/y\n/x/{id}/{rest+}", "/x/1/y/z"},
		{"/x/{id}/y\n/x/{id}/{rest+}\n/x/k/{p+}", "/x/k/y"},
		{"/{a}/{b}\n/{a}/c/{d+}\n/e/{f+}", "/e/c/d"},
		{"/{proxy+}\n/", "/"},
		{"/a/{b}\n/a/{c}", "/a/x"}, // conflicting siblings: rejected tree
		{"/a/{b+}/c", "/a/x/c"},    // invalid resource, skipped
		{"/ingests/{id}\n/ingests", "/ingests/%7Bid%7D"},
	}
	for _, s := range seeds {
		f.Add(s.resources, s.path)
	}
	f.Fuzz(func(t *testing.T, resList, path string) {
		var resources []Resource
		var parsed [][]pathPart
		for p := range strings.SplitSeq(resList, "\n") {
			parts, err := splitResourcePath(p)
			if err != nil || len(resources) == 16 {
				continue
			}
			resources = append(resources, Resource{Path: p})
			parsed = append(parsed, parts)
		}
		rt, err := buildTree(resources, nil)
		if err != nil {
			return // duplicate or conflicting resources: rejected by Validate
		}
		segs, err := normalizePath(path, true)
		if err != nil {
			return
		}
		got, params := rt.match(segs)

		best, bestRank := -1, []int(nil)
		for i, parts := range parsed {
			rank, ok := bruteMatch(parts, segs)
			if ok && (best < 0 || lessRank(rank, bestRank)) {
				best, bestRank = i, rank
			}
		}
		switch {
		case best < 0 && got == nil:
			return
		case best < 0:
			t.Fatalf("%q matched %s, but no resource does", path, got.path)
		case got == nil:
			t.Fatalf("%q matched nothing, but %s does", path, resources[best].Path)
		case got.path != resources[best].Path:
			t.Fatalf("%q matched %s, want the more specific %s", path, got.path, resources[best].Path)
		}
		// Parameters: one per variable part, holding the raw segments covered.
		i := 0
		for _, p := range parsed[best] {
			if p.literal != "" {
				i++
				continue
			}
			want := segs[i].raw
			if p.greedy {
				want = joinRaw(segs[i:])[1:]
			}
			found := false
			for _, pr := range params {
				if pr.name == p.param {
					found = pr.value == want
				}
			}
			if !found {
				t.Fatalf("%q on %s: param %s = %v, want %q", path, got.path, p.param, params, want)
			}
			i++
		}
		if len(params) != countParams(parsed[best]) {
			t.Fatalf("%q on %s: params %v", path, got.path, params)
		}
	})
}

// bruteMatch reports whether parts match segs and the specificity rank of
// each part (0 literal, 1 variable, 2 greedy).
func bruteMatch(parts []pathPart, segs []segment) ([]int, bool) {
	rank := make([]int, 0, len(parts))
	for i, p := range parts {
		switch {
		case p.greedy:
			if i >= len(segs) {
				return nil, false
			}
			return append(rank, 2), true
		case i >= len(segs):
			return nil, false
		case p.param != "":
			rank = append(rank, 1)
		case p.literal == segs[i].dec:
			rank = append(rank, 0)
		default:
			return nil, false
		}
	}
	return rank, len(parts) == len(segs)
}

func lessRank(a, b []int) bool {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

func countParams(parts []pathPart) int {
	n := 0
	for _, p := range parts {
		if p.param != "" {
			n++
		}
	}
	return n
}
