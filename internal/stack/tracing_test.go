package stack

import (
	"strings"
	"testing"
)

// gateway.accessLog: a format with an unknown $context variable is a
// config error naming the YAML path and the variable; sizes are bounded.
func TestAccessLogConfig(t *testing.T) {
	data, err := Default().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	base := string(data)
	const anchor = "  stage: v1\n"
	if !strings.Contains(base, anchor) {
		t.Fatalf("no %q in the built-in stack's YAML", anchor)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"  accessLog:\n    format: '{\"id\":\"$context.requestId\",\"who\":\"$context.identity.caller\"}'\n",
			"gateway.accessLog.format: unknown variable $context.identity.caller"},
		{"  accessLog:\n    maxSizeMiB: -1\n", "gateway.accessLog.maxSizeMiB: must be 1-1024"},
		{"  accessLog:\n    maxFiles: 1000\n", "gateway.accessLog.maxFiles: must be 1-100"},
		{"  accessLog:\n    fromat: x\n", "gateway.accessLog.fromat: unknown field; did you mean format?"},
	} {
		_, err := Parse([]byte(strings.Replace(base, anchor, anchor+tc.yaml, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
	ok := "  accessLog:\n    format: '$context.identity.sourceIp [$context.requestTime] \"$context.httpMethod $context.path\" $context.status'\n    maxSizeMiB: 1\n    maxFiles: 2\n"
	cfg, err := Parse([]byte(strings.Replace(base, anchor, anchor+ok, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Gateway.AccessLog.MaxFiles != 2 || !strings.HasPrefix(cfg.Gateway.AccessLog.Format, "$context.identity.sourceIp") {
		t.Errorf("parsed %+v", cfg.Gateway.AccessLog)
	}
}
