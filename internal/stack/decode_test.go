package stack

import (
	"strings"
	"testing"
)

// TestParseSpeaksYAML: a misspelt field or a value of the wrong kind is
// named by its YAML path, in the file's terms, never by a Go type.
func TestParseSpeaksYAML(t *testing.T) {
	data, err := Default().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	base := string(data)
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"misspelt field", "    healthCheck:\n", "    heathCheck:\n",
			"nlb.targetGroups[0].heathCheck: unknown field; did you mean healthCheck?"},
		{"field in the wrong case", "  listen: 127.0.0.1:8080\n", "  Listen: 127.0.0.1:8080\n",
			"gateway.Listen: unknown field; did you mean listen?"},
		{"no near field", "  stage: v1\n", "  stage: v1\n  frobnicate: 1\n", "gateway.frobnicate: unknown field ("},
		{"duration in words", "      interval: 1s\n", "      interval: 1 second\n",
			`nlb.targetGroups[0].healthCheck.interval: "1 second" is not a duration (write it like 500ms, 30s, 5m or 1h)`},
		{"number as words", "    desiredCount: 2\n", "    desiredCount: two\n", `services[0].desiredCount: "two" is not a whole number`},
		{"list expected", "  resourceServers:\n", "  resourceServers: none\n  oldResourceServers:\n",
			`auth.resourceServers: must be a list, not "none"`},
		{"mapping expected", "nlb:\n", "nlb: 127.77.0.10\nnlbOld:\n", `nlb: must be a mapping of fields, not "127.77.0.10"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(base, tc.old) {
				t.Fatalf("the built-in stack's YAML has no %q", tc.old)
			}
			_, err := Parse([]byte(strings.Replace(base, tc.old, tc.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: %v\nwant an error containing %q", err, tc.want)
			}
			for _, goWord := range []string{"stack.", "time.Duration", "!!str", "unmarshal"} {
				if strings.Contains(err.Error(), goWord) {
					t.Errorf("the error speaks Go (%q): %v", goWord, err)
				}
			}
		})
	}
	if _, err := Parse(data); err != nil {
		t.Fatalf("the built-in stack no longer parses: %v", err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "abc", 0}, {"heathcheck", "healthcheck", 1}, {"listn", "listen", 1}, {"abc", "xyz", 3}, {"", "ab", 2}} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}
