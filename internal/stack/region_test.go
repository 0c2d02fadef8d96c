package stack

import "testing"

// TestECSRegionIsTheStacks: tasks' ARNs and metadata name the same region as
// the AWS front door and the load balancer's ARNs (auth.region, else the user
// pool's prefix).
func TestECSRegionIsTheStacks(t *testing.T) {
	cfg := Default()
	cfg.Auth.UserPoolID = "us-east-2_abc"
	if got := cfg.ECSComponent(t.TempDir(), "/bin/true", nil, nil).Region; got != "us-east-2" || got != cfg.Region() {
		t.Errorf("ecs region %q, stack region %q; want us-east-2", got, cfg.Region())
	}
	if got := cfg.NLBComponent(nil).Region; got != cfg.Region() {
		t.Errorf("nlb region %q, want %q", got, cfg.Region())
	}
}
