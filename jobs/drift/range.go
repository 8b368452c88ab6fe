package drift

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ConfigError is a problem with what the user asked for: a bad range, a bad
// config file, an unknown column. File and Line are set when the problem is
// in a file (Line is 1-based, 0 when unknown). ConfigError reports true, which
// the CLI maps to exit code 2.
type ConfigError struct {
	File string
	Line int
	Msg  string
}

// Error renders the error as "FILE:LINE: MSG" when the location is known.
func (e *ConfigError) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	}
	return e.Msg
}

// ConfigError marks the error as a usage or configuration error.
func (e *ConfigError) ConfigError() bool { return true }

func configErrorf(format string, args ...any) *ConfigError {
	return &ConfigError{Msg: fmt.Sprintf(format, args...)}
}

// Range is an inclusive range of partition dates, both YYYY-MM-DD, From <= To.
type Range struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// String renders r as "D" for one day or "D..D".
func (r Range) String() string {
	if r.From == r.To {
		return r.From
	}
	return r.From + ".." + r.To
}

// Days returns the dates of r in ascending order.
func (r Range) Days() []string {
	from, err1 := time.Parse(dateLayout, r.From)
	to, err2 := time.Parse(dateLayout, r.To)
	if err1 != nil || err2 != nil {
		return nil
	}
	var out []string
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(dateLayout))
	}
	return out
}

// Contains reports whether date (YYYY-MM-DD) lies in r.
func (r Range) Contains(date string) bool { return date >= r.From && date <= r.To }

const dateLayout = "2006-01-02"

// maxRangeDays bounds "last N days" so date arithmetic cannot leave the
// calendar (about 100 years).
const maxRangeDays = 36600

var (
	minDate = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

const rangeHelp = "want D, D..D, today, yesterday, last N days, or last N days before D (dates are YYYY-MM-DD)"

// ParseRange parses a RANGE of partition dates relative to asOf, whose UTC
// date is "today":
//
//	2026-01-07               one day
//	2026-01-01..2026-01-04   inclusive
//	today, yesterday         asOf's UTC date, and the day before it
//	last 28 days             the 28 days before asOf's date, excluding it
//	last 28 days before D    the 28 days before D, excluding D
//
// Keywords are case-insensitive and may be separated by any whitespace;
// "last 1 day" is accepted. Every error is a *ConfigError that quotes s and
// says what is accepted.
func ParseRange(s string, asOf time.Time) (Range, error) {
	words := strings.Fields(strings.ToLower(s))
	bad := func(format string, args ...any) (Range, error) {
		return Range{}, configErrorf("range %q: "+format, append([]any{s}, args...)...)
	}
	if len(words) == 0 {
		return bad("empty; %s", rangeHelp)
	}
	today := asOf.UTC()
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	switch {
	case len(words) == 1 && words[0] == "today":
		return single(today)
	case len(words) == 1 && words[0] == "yesterday":
		if !today.After(minDate) {
			return bad("before year 1")
		}
		return single(today.AddDate(0, 0, -1))
	case len(words) == 1:
		from, to, isRange := strings.Cut(words[0], "..")
		a, err := parseDate(from)
		if err != nil {
			return bad("%v; %s", err, rangeHelp)
		}
		if !isRange {
			return single(a)
		}
		b, err := parseDate(to)
		if err != nil {
			return bad("%v; %s", err, rangeHelp)
		}
		if b.Before(a) {
			return bad("%s is after %s; write the earlier date first", from, to)
		}
		return Range{From: from, To: to}, nil
	case words[0] == "last":
		if len(words) != 3 && len(words) != 5 {
			return bad("%s", rangeHelp)
		}
		n, err := strconv.Atoi(words[1])
		if err != nil || n < 1 || n > maxRangeDays {
			return bad("%q is not a number of days in 1..%d", words[1], maxRangeDays)
		}
		if words[2] != "days" && words[2] != "day" {
			return bad("%q: want \"days\"; %s", words[2], rangeHelp)
		}
		end := today
		if len(words) == 5 {
			if words[3] != "before" {
				return bad("%q: want \"before\"; %s", words[3], rangeHelp)
			}
			if end, err = parseDate(words[4]); err != nil {
				return bad("%v; %s", err, rangeHelp)
			}
		}
		from, to := end.AddDate(0, 0, -n), end.AddDate(0, 0, -1)
		if from.Before(minDate) {
			return bad("starts before year 1")
		}
		return Range{From: from.Format(dateLayout), To: to.Format(dateLayout)}, nil
	}
	return bad("%s", rangeHelp)
}

func single(d time.Time) (Range, error) {
	s := d.Format(dateLayout)
	return Range{From: s, To: s}, nil
}

// parseDate parses YYYY-MM-DD strictly (no out-of-range days such as
// 2026-02-30, no other layouts).
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil || t.Format(dateLayout) != s {
		return time.Time{}, fmt.Errorf("%q is not a date", s)
	}
	if t.Before(minDate) || t.After(maxDate) {
		return time.Time{}, fmt.Errorf("%q is out of range", s)
	}
	return t, nil
}
