package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/lmittmann/tint"
)

// newLogger builds the stderr logger: human-readable on a terminal, JSON
// lines elsewhere, unless format forces one.
func newLogger(w io.Writer, tty bool, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	switch strings.ToLower(format) {
	case "auto", "":
		if tty {
			return slog.New(tint.NewHandler(w, &tint.Options{Level: lv, TimeFormat: "15:04:05"})), nil
		}
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv})), nil
	case "text":
		return slog.New(tint.NewHandler(w, &tint.Options{Level: lv, TimeFormat: "15:04:05", NoColor: !tty})), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv})), nil
	}
	return nil, fmt.Errorf("--log-format %q: want auto, text or json", format)
}
