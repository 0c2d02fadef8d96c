package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machineInfo describes the machine and the tools' versions.
func machineInfo(ctx context.Context, t tools) MachineInfo {
	m := MachineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	m.Nginx = strings.TrimPrefix(firstLine(ctx, t.nginx, "-v"), "nginx version: ")
	m.HAProxy = firstFields(firstLine(ctx, t.haproxy, "-v"), 3) // "HAProxy version X"
	m.Wrk = firstFields(firstLine(ctx, t.wrk, "-v"), 2)         // "wrk X"
	m.LoadBefore = loadavg()
	return m
}

// firstLine is the first line a tool prints for its version (on stdout or
// stderr, whatever the exit status).
func firstLine(ctx context.Context, bin string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// busyTicks is the machine's total non-idle CPU time from /proc/stat, in
// clockTicks (user nice system irq softirq steal; not idle, iowait, guest).
func busyTicks(proc string) (uint64, error) {
	data, err := os.ReadFile(proc + "/stat")
	if err != nil {
		return 0, err
	}
	return parseBusyTicks(string(data))
}

func parseBusyTicks(stat string) (uint64, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: no aggregate cpu line")
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, err
		}
		busy += v
	}
	return busy, nil
}

func firstFields(s string, n int) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(n, len(f))], " ")
}
