package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// profiling holds the hidden --cpu-profile and --mem-profile flags used by
// the performance work (docs/performance.md).
type profiling struct {
	cpu, mem string
	cpuFile  *os.File
}

func (p *profiling) register(root *cobra.Command) {
	root.PersistentFlags().StringVar(&p.cpu, "cpu-profile", "", "write a CPU profile to this file")
	root.PersistentFlags().StringVar(&p.mem, "mem-profile", "", "write a heap profile (peak in-use at exit) to this file")
	_ = root.PersistentFlags().MarkHidden("cpu-profile")
	_ = root.PersistentFlags().MarkHidden("mem-profile")
}

func (p *profiling) start() error {
	if p.cpu == "" {
		return nil
	}
	f, err := os.Create(p.cpu)
	if err != nil {
		return fmt.Errorf("--cpu-profile: %w", err)
	}
	p.cpuFile = f
	return pprof.StartCPUProfile(f)
}

func (p *profiling) stop() {
	if p.cpuFile != nil {
		pprof.StopCPUProfile()
		p.cpuFile.Close()
		p.cpuFile = nil
	}
	if p.mem != "" {
		f, err := os.Create(p.mem)
		if err == nil {
			runtime.GC()
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
}
