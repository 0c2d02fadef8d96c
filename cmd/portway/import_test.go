package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestImportTaskDefinition(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"import", "task-definition", "--service", "luggage", "--desired-count", "2",
		"../../internal/taskdef/testdata/describe-bags.json"}, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- name: luggage\n", "  desiredCount: 2\n", "  targetGroup: luggage\n", "- sidecar\n", "valueFrom: secrets/DB_PASSWORD"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errOut.String(), "note: taskDefinition.containerDefinitions[1].mountPoints: ignored") ||
		strings.Contains(out.String(), "note:") {
		t.Errorf("notes belong on stderr:\nstdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	}

	if out, err := runCLI(t, "import", "task-definition", "/nonexistent.json"); err == nil || !strings.Contains(err.Error(), "/nonexistent.json") {
		t.Errorf("missing file: %v %s", err, out)
	}
	if out, err := runCLI(t, "import", "task-definition", "--desired-count", "-1", "x.json"); err == nil || !strings.Contains(err.Error(), "--desired-count") {
		t.Errorf("negative count: %v %s", err, out)
	}
}
