//go:build !linux

package bench

import "syscall"

// childAttr: only Linux can tie a child's life to its parent's; elsewhere
// a bench that exits at once leaves its phase to finish by itself.
func childAttr() *syscall.SysProcAttr { return nil }

// settle: on Linux, writes every dirty page to disk between phases;
// elsewhere phases may pay for their predecessors' writes.
func settle() {}
