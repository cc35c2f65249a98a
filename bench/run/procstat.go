package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every
// Linux architecture Go supports (the kernel exports it as a constant to user space).
const clockTicks = 100

// cpuTime returns the user+system CPU time pid has used so far (utime+stime, fields 14
// and 15 of /proc/<pid>/stat).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu time: %w", err)
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime from a /proc/<pid>/stat line. The command name
// (field 2) may contain spaces and parentheses, so fields are counted after the last ")".
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: malformed %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the name", len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat: utime %q stime %q", f[11], f[12])
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// statusKB returns a "kB" field of /proc/<pid>/status (VmRSS, VmHWM), in KiB.
func statusKB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != field {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status %s: %w", field, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("status: no %s for pid %d", field, pid)
}

// resetPeakRSS sets VmHWM back to the current RSS (writing 5 to clear_refs, Linux ≥ 4.0),
// so that the peak of one scenario is not the peak of an earlier one.
func resetPeakRSS(pid int) error {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return fmt.Errorf("reset peak RSS: %w", err)
	}
	return nil
}

// tree returns pid and its descendants (nginx's master and workers), found by scanning
// /proc for parent ids.
func tree(pid int) []int {
	parents := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d) //nolint:gosec // G304: a /proc/<pid>/stat path from the glob above
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, err1 := strconv.Atoi(f[1])
		child, err2 := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err1 == nil && err2 == nil {
			parents[ppid] = append(parents[ppid], child)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, parents[out[i]]...)
	}
	return out
}

// usage is a snapshot of the CPU time of a set of processes (each with its descendants).
type usage struct {
	cpu time.Duration
}

// sample sums the CPU time of ps and their descendants.
func sample(ps []*proc) usage {
	var u usage
	for _, p := range ps {
		for _, pid := range tree(p.pid()) {
			if d, err := cpuTime(pid); err == nil {
				u.cpu += d
			}
		}
	}
	return u
}

// peakRSS returns the largest VmHWM among ps and their descendants, in KiB.
func peakRSS(ps []*proc) int64 {
	var peak int64
	for _, p := range ps {
		for _, pid := range tree(p.pid()) {
			if kb, err := statusKB(pid, "VmHWM"); err == nil && kb > peak {
				peak = kb
			}
		}
	}
	return peak
}

// resetPeaks resets VmHWM of ps and their descendants; it reports whether all worked.
func resetPeaks(ps []*proc) bool {
	ok := true
	for _, p := range ps {
		for _, pid := range tree(p.pid()) {
			if resetPeakRSS(pid) != nil {
				ok = false
			}
		}
	}
	return ok
}

// machine is a snapshot of the whole machine's CPU time (/proc/stat) and of the part of
// it that this run used (the runner, the children it has reaped such as wrk, and every
// live child with its descendants).
type machine struct {
	at          time.Time
	busy, steal time.Duration
	own         time.Duration
}

// snapshot reads the machine's and the run's CPU time now.
func (ps *procs) snapshot() machine {
	m := machine{at: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		m.busy, m.steal = parseProcStat(b)
	}
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		m.own = parseSelfCPU(b)
	}
	ps.mu.Lock()
	list := append([]*proc(nil), ps.list...)
	ps.mu.Unlock()
	live := list[:0]
	for _, p := range list {
		if !p.exited() {
			live = append(live, p)
		}
	}
	m.own += sample(live).cpu
	return m
}

// parseProcStat returns busy (user, nice, system) and steal time from the aggregate
// "cpu" line of /proc/stat. irq and softirq are left out: much of them is this run's own
// loopback traffic, which no process is charged for, and it must not count as foreign.
func parseProcStat(b []byte) (busy, steal time.Duration) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	tick := func(i int) time.Duration {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		return time.Duration(n) * time.Second / clockTicks
	}
	return tick(1) + tick(2) + tick(3), tick(8)
}

// parseSelfCPU is utime+stime+cutime+cstime of /proc/self/stat: the runner and the
// children it has waited for.
func parseSelfCPU(b []byte) time.Duration {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0
	}
	var sum int64
	for _, s := range f[11:15] {
		n, _ := strconv.ParseInt(s, 10, 64)
		sum += n
	}
	return time.Duration(sum) * time.Second / clockTicks
}

// foreign is the share of the machine's CPU capacity between a and b that went to
// processes outside this run (other, ≥ 0) and to the hypervisor (steal), 0–1 each.
func foreign(a, b machine, cpus int) (other, steal float64) {
	capacity := float64(b.at.Sub(a.at)) * float64(cpus)
	if capacity <= 0 {
		return 0, 0
	}
	other = float64((b.busy-a.busy)-(b.own-a.own)) / capacity
	return max(other, 0), float64(b.steal-a.steal) / capacity
}
