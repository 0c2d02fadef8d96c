package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

// TestReloadDeploysChangedService: `portway up` re-reads its config on
// SIGHUP; the service whose task definition changed gets a rolling
// deployment, the others are left alone, and a bad config changes nothing.
func TestReloadDeploysChangedService(t *testing.T) {
	stateDir := t.TempDir()
	cfg := testStack(33)
	cfgPath := writeConfig(t, cfg)
	up := startUp(t, stateDir, "--config", cfgPath)

	before := waitTasks(t, stateDir, "2 RUNNING tasks per service", 60*time.Second, func(ts []ecsTask) bool {
		return len(tasksOf(ts, "ingests", "RUNNING")) == 2 && len(tasksOf(ts, "bags", "RUNNING")) == 2
	})
	oldIngests := map[string]bool{}
	for _, tk := range tasksOf(before, "ingests", "RUNNING") {
		oldIngests[tk.TaskID] = true
	}
	bagsBefore := tasksOf(before, "bags", "RUNNING")

	// A bad config first: refused, nothing changes.
	if err := os.WriteFile(cfgPath, []byte("services: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := up.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "the reload error in the log", func() bool { return strings.Contains(up.stderr.String(), "reload failed") })

	// Then a changed task definition for ingests only.
	for i := range cfg.Services {
		if cfg.Services[i].Name == "ingests" {
			cfg.Services[i].Containers[1].Env = append(cfg.Services[i].Containers[1].Env, "RELOAD_MARK=1")
		}
	}
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := up.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	after := waitTasks(t, stateDir, "two new RUNNING ingests tasks and the old ones stopped", 90*time.Second, func(ts []ecsTask) bool {
		running := tasksOf(ts, "ingests", "RUNNING")
		if len(running) != 2 {
			return false
		}
		for _, tk := range running {
			if oldIngests[tk.TaskID] {
				return false
			}
		}
		stopped := 0
		for _, tk := range tasksOf(ts, "ingests", "STOPPED") {
			if oldIngests[tk.TaskID] && tk.scaledBy() {
				stopped++
			}
		}
		return stopped == 2
	})
	bagsAfter := tasksOf(after, "bags", "RUNNING")
	if len(bagsAfter) != 2 || bagsAfter[0].TaskID != bagsBefore[0].TaskID && bagsAfter[0].TaskID != bagsBefore[1].TaskID {
		t.Errorf("bags tasks changed on a reload that did not touch them: %+v -> %+v", bagsBefore, bagsAfter)
	}
	if !strings.Contains(up.stderr.String(), "rolling deployment started") {
		t.Errorf("the reload did not log its deployment:\n%s", up.stderr)
	}
}
