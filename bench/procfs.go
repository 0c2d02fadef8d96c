package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports (the kernel fixes it for the
// ABI whatever CONFIG_HZ is).
const clockTicks = 100

// procStat is what the harness reads from /proc/<pid>/stat.
type procStat struct {
	PID   int
	PPID  int
	State string
	// CPUTicks is utime+stime of every thread of the process, in clockTicks.
	CPUTicks uint64
}

// parseStat parses the contents of /proc/<pid>/stat. The command name (field
// 2) may contain spaces and parentheses, so parsing starts after the last ')'.
func parseStat(data []byte) (procStat, error) {
	s := string(data)
	open := strings.IndexByte(s, '(')
	closing := strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("stat %q: no command name", truncate(s, 80))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return procStat{}, fmt.Errorf("stat pid: %w", err)
	}
	// Fields after the name start at field 3 (state).
	f := strings.Fields(s[closing+1:])
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("stat of pid %d: %d fields after the name, want >= 13", pid, len(f))
	}
	ppid, err := strconv.Atoi(f[1]) // field 4
	if err != nil {
		return procStat{}, fmt.Errorf("stat of pid %d: ppid: %w", pid, err)
	}
	utime, err := strconv.ParseUint(f[11], 10, 64) // field 14
	if err != nil {
		return procStat{}, fmt.Errorf("stat of pid %d: utime: %w", pid, err)
	}
	stime, err := strconv.ParseUint(f[12], 10, 64) // field 15
	if err != nil {
		return procStat{}, fmt.Errorf("stat of pid %d: stime: %w", pid, err)
	}
	return procStat{PID: pid, PPID: ppid, State: f[0], CPUTicks: utime + stime}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// readStat reads /proc/<pid>/stat.
func readStat(proc string, pid int) (procStat, error) {
	data, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(data)
}

// allStats reads the stat of every process under proc (normally "/proc").
// Processes that exit while it reads are skipped.
func allStats(proc string) (map[int]procStat, error) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", proc, err)
	}
	out := make(map[int]procStat, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(proc, pid)
		if err != nil {
			continue
		}
		out[pid] = st
	}
	return out, nil
}

// treeOf returns roots and all their live descendants, given every process's
// stat. Roots that are gone are left out.
func treeOf(stats map[int]procStat, roots ...int) []int {
	children := make(map[int][]int)
	for pid, st := range stats {
		children[st.PPID] = append(children[st.PPID], pid)
	}
	seen := make(map[int]bool)
	var out []int
	queue := make([]int, 0, len(roots))
	for _, r := range roots {
		if _, ok := stats[r]; ok {
			queue = append(queue, r)
		}
	}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		out = append(out, pid)
		queue = append(queue, children[pid]...)
	}
	return out
}

// cpuSample is the CPU time of a set of processes at one moment.
type cpuSample map[int]uint64

// sampleCPU records utime+stime of roots and their descendants.
func sampleCPU(proc string, roots ...int) (cpuSample, error) {
	stats, err := allStats(proc)
	if err != nil {
		return nil, err
	}
	s := make(cpuSample)
	for _, pid := range treeOf(stats, roots...) {
		s[pid] = stats[pid].CPUTicks
	}
	return s, nil
}

// cpuSecondsBetween is the CPU time the processes used from a to b. A process
// that appeared in between counts in full (it started during the interval);
// one that exited in between is lost (its time went to its parent's cutime).
func cpuSecondsBetween(a, b cpuSample) float64 {
	var ticks uint64
	for pid, t := range b {
		if t0, ok := a[pid]; ok && t >= t0 {
			ticks += t - t0
		} else if !ok {
			ticks += t
		}
	}
	return float64(ticks) / clockTicks
}

// parseVmRSS returns VmRSS in bytes from the contents of /proc/<pid>/status
// (0 for kernel threads and zombies, which have none).
func parseVmRSS(data []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS line %q: want \"<n> kB\"", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS line %q: %w", line, err)
		}
		return kb * 1024, nil
	}
	return 0, sc.Err()
}

// rssOf sums VmRSS over roots and their descendants, in bytes.
func rssOf(proc string, roots ...int) (int64, error) {
	stats, err := allStats(proc)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, pid := range treeOf(stats, roots...) {
		data, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "status"))
		if err != nil {
			continue // exited meanwhile
		}
		n, err := parseVmRSS(data)
		if err != nil {
			return 0, fmt.Errorf("pid %d: %w", pid, err)
		}
		total += n
	}
	return total, nil
}

// pssOf sums the proportional set size (Pss in /proc/<pid>/smaps_rollup)
// over roots and their descendants, in bytes: pages shared by several
// processes (the one portway binary all containers run) count once in all,
// which is what the stack really costs. VmRSS sums count them per process.
func pssOf(proc string, roots ...int) (int64, error) {
	stats, err := allStats(proc)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, pid := range treeOf(stats, roots...) {
		data, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "smaps_rollup"))
		if err != nil {
			continue // exited meanwhile, or a kernel without smaps_rollup
		}
		n, err := parseKBField(data, "Pss:")
		if err != nil {
			return 0, fmt.Errorf("pid %d: %w", pid, err)
		}
		total += n
	}
	return total, nil
}

// parseKBField returns the "<field> <n> kB" line's value in bytes.
func parseKBField(data []byte, field string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s line %q: want \"<n> kB\"", field, sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s line %q: %w", field, sc.Text(), err)
		}
		return kb * 1024, nil
	}
	return 0, sc.Err()
}
