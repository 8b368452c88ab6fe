package main

import (
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the Go heap's soft limit when $GOMEMLIMIT is not
// set. Ingest streams, and its memory is bounded by buffers and the dedup
// key sets; the limit makes the garbage collector return memory before the
// heap doubles, keeping the process under 512 MiB RSS on large inputs.
const defaultMemoryLimit = 400 << 20

func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
