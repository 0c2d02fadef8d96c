package nlb

import (
	"errors"
	"strings"
	"testing"
)

// TestRegisterTargetsOnlyInTargetCIDRs: RegisterTargets (the Go API the
// in-process registrar uses, and the control API) refuses an address outside
// the load balancer's target CIDRs with ValidationError and registers none
// of the request's targets.
func TestRegisterTargetsOnlyInTargetCIDRs(t *testing.T) {
	cfg := testConfig(t, 0)
	lb, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Default: loopback only.
	for _, id := range []string{"127.0.0.2", "127.77.1.9", "::1"} {
		if err := lb.RegisterTargets("tg", []Target{{ID: id, Port: 9000}}); err != nil {
			t.Errorf("default CIDRs: register %s: %v", id, err)
		}
	}
	for _, id := range []string{"10.0.1.1", "::2", "192.168.1.1"} {
		err := lb.RegisterTargets("tg", []Target{{ID: id, Port: 9000}})
		if !errors.Is(err, ErrValidation) || !strings.Contains(err.Error(), "'"+id+"'") {
			t.Errorf("default CIDRs: register %s: %v, want ValidationError naming it", id, err)
		}
	}

	cfg.TargetCIDRs = []string{"127.77.1.0/24", "10.0.1.0/24"}
	lb, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = lb.RegisterTargets("tg", []Target{{ID: "127.77.1.5", Port: 9000}, {ID: "127.0.0.1", Port: 4444}})
	if !errors.Is(err, ErrValidation) || !strings.Contains(err.Error(), "'127.0.0.1'") || !strings.Contains(err.Error(), "127.77.1.0/24, 10.0.1.0/24") {
		t.Fatalf("register 127.0.0.1 outside the CIDRs: %v", err)
	}
	if ths, _ := lb.DescribeTargetHealth("tg"); len(ths) != 0 {
		t.Errorf("a refused request registered targets: %+v", ths)
	}
	if err := lb.RegisterTargets("tg", []Target{{ID: "127.77.1.5"}, {ID: "10.0.1.200"}}); err != nil {
		t.Errorf("targets inside the CIDRs: %v", err)
	}
	if err := lb.RegisterTargets("tg", []Target{{ID: "::ffff:127.77.1.6"}}); err != nil {
		t.Errorf("IPv4-mapped address inside the CIDRs: %v", err)
	}
}

func TestControlRegisterOutsideTargetCIDRs(t *testing.T) {
	_, srv := controlServer(t)
	status, body := call(t, srv, "POST", "/elbv2/RegisterTargets", `{"TargetGroupName":"tg","Targets":[{"Id":"10.9.8.7","Port":9000}]}`)
	if status != 400 || at(body, "Error", "Code") != "ValidationError" {
		t.Fatalf("got %d %v, want 400 ValidationError", status, body)
	}
	if msg, _ := at(body, "Error", "Message").(string); !strings.HasPrefix(msg, "The IP address '10.9.8.7' is not within") {
		t.Errorf("message %q", msg)
	}
}

func TestConfigTargetCIDRs(t *testing.T) {
	c := validConfig()
	if got := c.withDefaults().TargetCIDRs; strings.Join(got, ",") != "127.0.0.0/8,::1/128" {
		t.Errorf("default target CIDRs = %v", got)
	}
	c.TargetCIDRs = []string{"10.0.1.0/24", "nonsense", "10.0.2.1"}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), `targetCIDRs[1]: "nonsense" is not a CIDR`) ||
		!strings.Contains(err.Error(), `targetCIDRs[2]: "10.0.2.1" is not a CIDR`) || strings.Contains(err.Error(), "targetCIDRs[0]") {
		t.Errorf("Validate() = %v", err)
	}
}
