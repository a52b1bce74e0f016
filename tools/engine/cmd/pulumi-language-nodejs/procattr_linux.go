package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks the kernel to SIGKILL the child when its parent thread exits.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
