package awsid

import "testing"

func TestPoolRegionAndARN(t *testing.T) {
	for pool, want := range map[string]string{
		"eu-west-1_portway": "eu-west-1",
		"us-gov-west-1_Ab1": "us-gov-west-1",
		"local_portway":     "",
		"_x":                "",
		"nounderscore":      "",
	} {
		if got := PoolRegion(pool); got != want {
			t.Errorf("PoolRegion(%q) = %q, want %q", pool, got, want)
		}
	}
	if got := ARN("ecs", "eu-west-1", "cluster/portway"); got != "arn:aws:ecs:eu-west-1:000000000000:cluster/portway" {
		t.Errorf("ARN = %s", got)
	}
}
