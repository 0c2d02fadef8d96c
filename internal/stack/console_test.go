package stack

import (
	"testing"

	"github.com/portway/portway/internal/console"
	"github.com/portway/portway/internal/gateway"
)

// TestConsoleRoutes: the console lists every stage's methods with the
// integration URI as that stage resolves it.
func TestConsoleRoutes(t *testing.T) {
	gc := gateway.Config{
		Stage: "v1", StageVariables: map[string]string{"nlb_host": "127.77.0.10"},
		Stages: []gateway.Stage{{Name: "v2", Variables: map[string]string{"nlb_host": "127.77.0.20"}}},
		Resources: []gateway.Resource{
			{Path: "/bags/{proxy+}", Methods: []gateway.Method{{HTTPMethod: "ANY", Authorization: "COGNITO_USER_POOLS",
				Integration: gateway.Integration{Type: "HTTP_PROXY", URI: "http://${stageVariables.nlb_host}:65534/bags/{proxy}"}}}},
			{Path: "/ping", Methods: []gateway.Method{{HTTPMethod: "GET", Integration: gateway.Integration{Type: "MOCK"}}}},
		},
	}
	got := consoleRoutes(gc)
	want := []console.Route{
		{Stage: "v1", Method: "ANY", Resource: "/bags/{proxy+}", Auth: "COGNITO_USER_POOLS", Integration: "http://127.77.0.10:65534/bags/{proxy}"},
		{Stage: "v1", Method: "GET", Resource: "/ping", Auth: "NONE", Integration: "MOCK"},
		{Stage: "v2", Method: "ANY", Resource: "/bags/{proxy+}", Auth: "COGNITO_USER_POOLS", Integration: "http://127.77.0.20:65534/bags/{proxy}"},
		{Stage: "v2", Method: "GET", Resource: "/ping", Auth: "NONE", Integration: "MOCK"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("route %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
