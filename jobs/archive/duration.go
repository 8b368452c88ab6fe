package archive

import (
	"fmt"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/txlake/txlake/tagging"
)

// ParseAge parses an age such as "30d" (days), "12w" (weeks) or any Go
// duration ("720h", "90m"). It must be positive.
func ParseAge(s string) (time.Duration, error) {
	d, err := tagging.ParseDuration(s)
	if err != nil || s != strings.TrimSpace(s) {
		return 0, fmt.Errorf("invalid age %q: want a positive duration such as 30d, 12w or 720h", s)
	}
	return d, nil
}

// ParseSize parses a byte size such as "128MiB", "64MB" or "1G" (at least
// 1 KiB).
func ParseSize(s string) (int64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil || n < 1024 || n > 1<<40 {
		return 0, fmt.Errorf("invalid size %q: want e.g. 128MiB or 512MB (1KiB to 1TiB)", s)
	}
	return int64(n), nil
}

// Cutoff returns the first partition date that is not older than age at
// now: a partition dt=D is older than age when D < Cutoff(now, age), that
// is when every event of its day happened at least age before now.
func Cutoff(now time.Time, age time.Duration) string {
	return now.UTC().Add(-age).Format("2006-01-02")
}
