//go:build unix

package lake

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// pidNamespace identifies this process's PID namespace on this boot of
// this machine ("" when unknown), so a PID is only ever interpreted in the
// namespace it belongs to. The boot id (random per boot) keeps two machines
// with the same host name apart: their initial namespaces share an inode.
func pidNamespace() string {
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil || len(strings.TrimSpace(string(boot))) == 0 {
		return ""
	}
	return ns + " boot:" + strings.TrimSpace(string(boot))
}

// processGone reports whether no process with pid exists in this PID
// namespace. It errs towards "alive": any answer but ESRCH is alive.
func processGone(pid int) bool {
	if pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
