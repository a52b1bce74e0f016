//go:build !linux

package main

import "os/exec"

// dieWithParent has no kernel support outside Linux; there the program notices
// the engine's monitor closing and exits on its own.
func dieWithParent(*exec.Cmd) {}
