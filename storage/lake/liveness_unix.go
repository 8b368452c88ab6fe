//go:build unix

package lake

import (
	"errors"
	"os"
	"syscall"
)

// pidNamespace identifies this process's PID namespace ("" when unknown),
// so a PID is only ever interpreted in the namespace it belongs to.
func pidNamespace() string {
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return ns
}

// processGone reports whether no process with pid exists in this PID
// namespace. It errs towards "alive": any answer but ESRCH is alive.
func processGone(pid int) bool {
	if pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
