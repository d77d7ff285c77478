//go:build unix

package stix

import (
	"syscall"
	"time"
)

// processCPUTime is the CPU time the process has used, all threads
// together: a figure benchmarks can report that other processes on a busy
// machine do not inflate.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
