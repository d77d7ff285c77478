//go:build unix

package main

import "syscall"

// raiseFileLimit raises the soft limit of open files to the hard limit and
// returns it; 0 if it is unknown. (The Go runtime raises it too, since Go
// 1.19; doing it here keeps the figure the connection cap is derived from
// in one place.)
func raiseFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			lim = raised
		}
	}
	return lim.Cur
}
