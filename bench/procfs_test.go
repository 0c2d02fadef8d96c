package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// Field 14 utime, 15 stime; the name may hold spaces and parentheses.
	tail := "S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 123 4096 10 18446744073709551615"
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{"plain", "42 (portway) " + tail, procStat{PID: 42, PPID: 1, State: "S", CPUTicks: 325}, false},
		{"name with spaces and parens", "7 (a) b (c)) " + tail, procStat{PID: 7, PPID: 1, State: "S", CPUTicks: 325}, false},
		{"zombie", "9 (x) Z 3 9 9 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 0 0 0", procStat{PID: 9, PPID: 3, State: "Z", CPUTicks: 3}, false},
		{"no name", "42 portway S 1", procStat{}, true},
		{"too few fields", "42 (x) S 1 2", procStat{}, true},
		{"bad utime", "42 (x) S 1 42 42 0 -1 0 0 0 0 0 u 1", procStat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{"present", "Name:\tx\nVmPeak:\t 9000 kB\nVmRSS:\t    1234 kB\nThreads: 3\n", 1234 * 1024, false},
		{"kernel thread", "Name:\tkthreadd\nState:\tS\n", 0, false},
		{"bad unit", "VmRSS:\t1234 MB\n", 0, true},
		{"bad number", "VmRSS:\tx kB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmRSS([]byte(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("= %d, %v; want %d, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestTreeOf(t *testing.T) {
	stats := map[int]procStat{
		1:  {PID: 1, PPID: 0},
		10: {PID: 10, PPID: 1},
		11: {PID: 11, PPID: 10},
		12: {PID: 12, PPID: 11},
		20: {PID: 20, PPID: 1},
		21: {PID: 21, PPID: 20},
	}
	tests := []struct {
		roots []int
		want  []int
	}{
		{[]int{10}, []int{10, 11, 12}},
		{[]int{10, 20}, []int{10, 11, 12, 20, 21}},
		{[]int{10, 11}, []int{10, 11, 12}}, // overlapping roots count once
		{[]int{99}, nil},                   // gone
		{[]int{12}, []int{12}},
	}
	for _, tt := range tests {
		got := treeOf(stats, tt.roots...)
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("treeOf(%v) = %v, want %v", tt.roots, got, tt.want)
		}
	}
}

func TestCPUSecondsBetween(t *testing.T) {
	tests := []struct {
		name string
		a, b cpuSample
		want float64
	}{
		{"deltas", cpuSample{1: 100, 2: 50}, cpuSample{1: 150, 2: 60}, 0.6},
		{"new process counts in full", cpuSample{1: 100}, cpuSample{1: 100, 3: 25}, 0.25},
		{"exited process is lost", cpuSample{1: 100, 2: 50}, cpuSample{1: 110}, 0.1},
		{"pid reused with fewer ticks", cpuSample{1: 100}, cpuSample{1: 10}, 0},
	}
	for _, tt := range tests {
		if got := cpuSecondsBetween(tt.a, tt.b); fmt.Sprintf("%.3f", got) != fmt.Sprintf("%.3f", tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseBusyTicks(t *testing.T) {
	got, err := parseBusyTicks("cpu  10 1 5 1000 7 2 3 4 9 9\ncpu0 1 1 1 1 1 1 1 1\n")
	if err != nil || got != 10+1+5+2+3+4 {
		t.Errorf("= %d, %v; want 25", got, err)
	}
	if _, err := parseBusyTicks("intr 1 2 3\n"); err == nil {
		t.Error("no error without a cpu line")
	}
}

// TestReadersOnOwnProcess reads this test's own /proc entries.
func TestReadersOnOwnProcess(t *testing.T) {
	pid := os.Getpid()
	st, err := readStat("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != pid || st.PPID != os.Getppid() {
		t.Errorf("stat = %+v, want pid %d ppid %d", st, pid, os.Getppid())
	}

	rss, err := rssOf("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	own, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	want, err := parseVmRSS(own)
	if err != nil {
		t.Fatal(err)
	}
	// Same process, read twice: close, not necessarily equal.
	if rss <= 0 || rss < want/2 || rss > want*2 {
		t.Errorf("rssOf(self) = %d, /proc/self/status VmRSS = %d", rss, want)
	}

	before, err := sampleCPU("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := before[pid]; !ok {
		t.Fatalf("sample %v lacks own pid %d", before, pid)
	}
	// Burn CPU until the kernel has accounted at least two ticks.
	deadline := time.Now().Add(20 * time.Second)
	x := 0
	for {
		for i := 0; i < 1_000_000; i++ {
			x += i ^ x
		}
		after, err := sampleCPU("/proc", pid)
		if err != nil {
			t.Fatal(err)
		}
		if got := cpuSecondsBetween(before, after); got >= 2.0/clockTicks {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("own CPU time did not grow in 20s of spinning (x=%d)", x)
		}
	}
}

// TestProcSetStopsTree starts a shell with a child in a group of its own
// and checks stopAll leaves neither behind, and that the tree readers see
// the child under the shell.
func TestProcSetStopsTree(t *testing.T) {
	ps := &procSet{dir: t.TempDir(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	t.Cleanup(func() { _ = ps.stopAll() })
	// The grandchild makes a group of its own (set -m), as portway's tasks do,
	// so only the descendant sweep can reach it; it ignores SIGTERM.
	p, err := ps.start("sh", []string{"/bin/sh", "-c", `set -m; sh -c 'trap "" TERM; while :; do sleep 1; done' & echo $! ; wait`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tree []int
	if err := waitFor(t.Context(), "child started", p, 10*time.Second, 10*time.Millisecond, func() bool {
		stats, err := allStats("/proc")
		if err != nil {
			return false
		}
		tree = treeOf(stats, p.PID())
		return len(tree) >= 2
	}); err != nil {
		t.Fatal(err)
	}
	rss, err := rssOf("/proc", p.PID())
	if err != nil || rss <= 0 {
		t.Errorf("rssOf(tree) = %d, %v", rss, err)
	}
	if err := ps.stopAll(); err != nil {
		t.Fatal(err)
	}
	if !p.Exited() {
		t.Error("shell still running")
	}
	for _, pid := range tree {
		if err := waitFor(t.Context(), fmt.Sprintf("pid %d gone", pid), nil, 10*time.Second, 10*time.Millisecond, func() bool {
			return !alive(pid) || syscall.Kill(pid, 0) != nil
		}); err != nil {
			t.Error(err)
		}
	}
	log, _ := os.ReadFile(p.logPath)
	if strings.TrimSpace(string(log)) == "" {
		t.Error("the process's output did not reach its log")
	}
}

func TestPSSOfSelf(t *testing.T) {
	pss, err := pssOf("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	rss, err := rssOf("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if pss <= 0 || pss > rss {
		t.Errorf("pss %d, rss %d: want 0 < pss <= rss", pss, rss)
	}
}
