package e2e

import (
	"encoding/json"
	"testing"
)

type targetDesc struct {
	Target struct {
		ID   string `json:"Id"`
		Port int    `json:"Port"`
	} `json:"Target"`
	TargetHealth struct {
		State  string `json:"State"`
		Reason string `json:"Reason"`
	} `json:"TargetHealth"`
	Connections int64 `json:"Connections"`
}

// describeTargets asks `portway targets --json` for a group's targets, as a
// user would.
func describeTargets(t *testing.T, stateDir, group string) []targetDesc {
	t.Helper()
	out, errOut, err := runPortway(t, "targets", group, "--json", "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("portway targets: %v: %s", err, errOut)
	}
	var v struct {
		TargetGroups []struct {
			TargetGroupName          string       `json:"TargetGroupName"`
			TargetHealthDescriptions []targetDesc `json:"TargetHealthDescriptions"`
		} `json:"TargetGroups"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("portway targets --json: %v\n%s", err, out)
	}
	if len(v.TargetGroups) != 1 || v.TargetGroups[0].TargetGroupName != group {
		t.Fatalf("portway targets %s --json: %s", group, out)
	}
	return v.TargetGroups[0].TargetHealthDescriptions
}

// taskPIDs lists the container processes of the running stack's tasks.
func taskPIDs(t *testing.T, stateDir string) []int {
	t.Helper()
	out, errOut, err := runPortway(t, "tasks", "--json", "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("portway tasks: %v: %s", err, errOut)
	}
	var v struct {
		Tasks []struct {
			LastStatus string `json:"lastStatus"`
			Containers []struct {
				PID int `json:"pid"`
			} `json:"containers"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("portway tasks --json: %v\n%s", err, out)
	}
	var pids []int
	for _, task := range v.Tasks {
		if task.LastStatus != "RUNNING" {
			continue
		}
		for _, c := range task.Containers {
			if c.PID > 0 {
				pids = append(pids, c.PID)
			}
		}
	}
	return pids
}
