package ecs

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

// childrenOf lists the pids whose parent is pid.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

// TestKilledParentLeavesNoNginx: when the process that started nginx dies
// by SIGKILL (portway killed -9), nginx's master and workers go too.
func TestKilledParentLeavesNoNginx(t *testing.T) {
	t.Parallel()
	requireNginx(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: nginx gets a PID namespace of its own only when portway runs as root (as non-root, a worker can outlive a SIGKILLed portway)")
	}
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t, "127.0.0.1"))
	parent := exec.Command(executable(t), "-mode=nginx-parent", "-listen="+listen, "-dir="+t.TempDir())
	parent.Env = append(os.Environ(), "ECS_TEST_CONTAINER=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = parent.Process.Kill(); _ = parent.Wait() })
	var master int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "nginx="); ok {
			master, _ = strconv.Atoi(v)
			break
		}
	}
	if master == 0 {
		t.Fatal("no nginx pid from the parent")
	}
	testutil.WaitFor(t, waitLong, "nginx listening", func() bool {
		c, err := net.Dial("tcp", listen)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	var workers []int
	testutil.WaitFor(t, waitLong, "an nginx worker", func() bool { workers = childrenOf(master); return len(workers) > 0 })

	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	for _, pid := range append([]int{master}, workers...) {
		testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("nginx process %d gone", pid), func() bool { return processGone(pid) })
	}
}
