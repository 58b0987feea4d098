package main

import "syscall"

// childAttr makes a child process (bench's embedded broker) die with
// alertbeam, also when it exits at once on a second signal.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
