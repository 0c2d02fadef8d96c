package h1test

import (
	"syscall"
	"testing"
	"time"
)

// CPUMeter starts measuring the process's CPU time (user + system); the
// returned func reports it per op as "cpu-ns/op". On a shared, loaded
// machine it says more about a change's cost than ns/op, which counts
// time spent waiting to be scheduled.
func CPUMeter(b *testing.B) (stop func()) {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
