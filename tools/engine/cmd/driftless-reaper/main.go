//go:build linux

// Command driftless-reaper runs one command and kills every process it
// started when its own parent dies, by any signal, SIGKILL included.
//
// Usage: driftless-reaper [--] command [args...]
//
// The reconciler starts it as the leader of a new process group and it starts
// the command in that group. The Pulumi CLI puts each plugin it starts in a
// process group of its own, so the reaper also makes itself a child subreaper
// (PR_SET_CHILD_SUBREAPER): processes orphaned below it are re-parented to it,
// not to init, and its descendants stay a tree it can walk.
//
//   - It asks the kernel for SIGUSR1 when its parent exits (PR_SET_PDEATHSIG)
//     and also polls getppid every 500 ms; either way, on its parent's death it
//     SIGKILLs all its descendants and its process group, itself included.
//     Provider plugins built with Pulumi's Go SDK look for their engine only
//     every few minutes, so they cannot be left to notice it themselves.
//   - SIGINT and SIGTERM it receives go to the command (the engine cancels
//     cleanly on SIGINT).
//   - Standard input, output and error are the command's.
//   - When the command exits, descendants still running are killed, and it
//     exits with the command's exit code, or 128+signal when the command was
//     killed by a signal.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pollEvery is how often the parent pid is checked, a backup for the
// parent-death signal (which fires when the parent's thread that started us
// exits, not only the process).
const pollEvery = 500 * time.Millisecond

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: driftless-reaper [--] command [args...]")
		os.Exit(64)
	}

	parent := os.Getppid()
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGUSR1, syscall.SIGINT, syscall.SIGTERM)
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGUSR1), 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "driftless-reaper: prctl(PR_SET_PDEATHSIG): %v\n", err)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "driftless-reaper: prctl(PR_SET_CHILD_SUBREAPER): %v\n", err)
	}
	// The parent may have died before the parent-death signal was set.
	if os.Getppid() != parent {
		killAll()
	}

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// No Setpgid: the command stays in our process group.
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "driftless-reaper: cannot start %q: %v\n", args[0], err)
		os.Exit(127)
	}

	// As a subreaper it must reap orphans too, so it waits for any child
	// (never through cmd.Wait, which would race with that).
	done := make(chan int, 1)
	go reap(cmd.Process.Pid, done)
	ticker := time.NewTicker(pollEvery)
	defer ticker.Stop()
	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGUSR1 {
				killAll()
			}
			_ = cmd.Process.Signal(sig)
		case <-ticker.C:
			if os.Getppid() != parent {
				killAll()
			}
		case code := <-done:
			killDescendants()
			os.Exit(code)
		}
	}
}

// reap waits for every child and sends the command's exit code once it exits.
func reap(command int, done chan<- int) {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "driftless-reaper: wait: %v\n", err)
			done <- 1
			return
		}
		if pid != command {
			continue
		}
		switch {
		case status.Exited():
			done <- status.ExitStatus()
			return
		case status.Signaled():
			done <- 128 + int(status.Signal())
			return
		}
	}
}

// killAll SIGKILLs every descendant and every process of our process group,
// this one included.
func killAll() {
	killDescendants()
	_ = syscall.Kill(0, syscall.SIGKILL)
	// Only reached if the kill failed; never run on without a parent.
	os.Exit(137)
}

// killDescendants SIGKILLs the processes below this one, read from /proc,
// and those that carry this run's engine tag (DRIFTLESS_ENGINE, inherited by
// every process the command starts, wherever it was re-parented), until
// several scans in a row find none (one may fork while the others are killed).
func killDescendants() {
	tag := os.Getenv("DRIFTLESS_ENGINE")
	for quiet, round := 0, 0; quiet < 3 && round < 100; round++ {
		pids := descendants(os.Getpid())
		if tag != "" {
			pids = append(pids, tagged("DRIFTLESS_ENGINE="+tag)...)
		}
		if len(pids) == 0 {
			quiet++
		} else {
			quiet = 0
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tagged lists the live processes other than this one whose environment holds entry.
func tagged(entry string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var found []int
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		environ, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, v := range strings.Split(string(environ), "\x00") {
			if v == entry {
				found = append(found, pid)
				break
			}
		}
	}
	return found
}

// descendants lists the live (not zombie) processes below root.
func descendants(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + entry.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 || fields[0] == "Z" || fields[0] == "X" {
			continue
		}
		ppid, err := strconv.Atoi(fields[1])
		if err != nil {
			continue
		}
		children[ppid] = append(children[ppid], pid)
	}
	var found []int
	for queue := children[root]; len(queue) > 0; queue = queue[1:] {
		found = append(found, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return found
}
