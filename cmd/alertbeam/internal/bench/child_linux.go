package bench

import "syscall"

// childAttr makes a phase's process die with the bench that started it,
// also when the bench exits at once on a second signal.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// settle writes every dirty page of the machine to disk.
func settle() { syscall.Sync() }
