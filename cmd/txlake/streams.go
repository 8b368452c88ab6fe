package main

import (
	"io"
	"os"

	"github.com/mattn/go-isatty"
)

// streams carries a command's input and output. Commands never touch
// os.Stdout or os.Stderr directly, so tests can capture both.
type streams struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	OutTTY bool // stdout is a terminal
	ErrTTY bool // stderr is a terminal
}

func newStdStreams() *streams {
	return &streams{
		In:     os.Stdin,
		Out:    os.Stdout,
		Err:    os.Stderr,
		OutTTY: isatty.IsTerminal(os.Stdout.Fd()),
		ErrTTY: isatty.IsTerminal(os.Stderr.Fd()),
	}
}
