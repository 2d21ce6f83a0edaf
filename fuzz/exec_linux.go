package fuzz

import "syscall"

// dieWithParent makes the kernel kill the target when cvrswarm dies
// without closing it (a SIGKILL, a SIGPIPE on stdout), so that no target
// outlives the run.
func dieWithParent(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }
