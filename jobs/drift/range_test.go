package drift

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var testAsOf = time.Date(2026, 3, 1, 17, 30, 0, 0, time.FixedZone("X", -5*3600)) // 2026-03-01 22:30 UTC

func TestParseRange(t *testing.T) {
	tests := []struct {
		name, in string
		want     Range
		wantErr  string
	}{
		{"one day", "2026-01-07", Range{"2026-01-07", "2026-01-07"}, ""},
		{"span", "2026-01-01..2026-01-04", Range{"2026-01-01", "2026-01-04"}, ""},
		{"span of one day", "2026-01-04..2026-01-04", Range{"2026-01-04", "2026-01-04"}, ""},
		{"today uses the UTC date", "today", Range{"2026-03-01", "2026-03-01"}, ""},
		{"yesterday across a month", "yesterday", Range{"2026-02-28", "2026-02-28"}, ""},
		{"keywords ignore case and spacing", "  Last   7  DAYS ", Range{"2026-02-22", "2026-02-28"}, ""},
		{"last 1 day", "last 1 day", Range{"2026-02-28", "2026-02-28"}, ""},
		{"last 28 days", "last 28 days", Range{"2026-02-01", "2026-02-28"}, ""},
		{"last N days before D", "last 3 days before 2026-01-07", Range{"2026-01-04", "2026-01-06"}, ""},
		{"leap day", "last 2 days before 2024-03-01", Range{"2024-02-28", "2024-02-29"}, ""},
		{"empty", "   ", Range{}, "empty"},
		{"reversed", "2026-01-04..2026-01-01", Range{}, "is after"},
		{"not a date", "2026-02-30", Range{}, "is not a date"},
		{"loose date", "2026-1-7", Range{}, "is not a date"},
		{"open span", "2026-01-01..", Range{}, "is not a date"},
		{"three dots", "2026-01-01...2026-01-02", Range{}, "is not a date"},
		{"zero days", "last 0 days", Range{}, "number of days"},
		{"negative days", "last -3 days", Range{}, "number of days"},
		{"huge days", "last 99999999999999999999 days", Range{}, "number of days"},
		{"weeks", "last 2 weeks", Range{}, `"weeks"`},
		{"after", "last 2 days after 2026-01-01", Range{}, `"after"`},
		{"before a bad date", "last 2 days before tomorrow", Range{}, "is not a date"},
		{"missing unit", "last 2", Range{}, "want D"},
		{"before year 1", "last 5 days before 0001-01-02", Range{}, "before year 1"},
		{"word", "tomorrow", Range{}, "is not a date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRange(tt.in, testAsOf)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseRange(%q) = %+v, want an error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRange(%q) error %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				var ce interface{ ConfigError() bool }
				if !errors.As(err, &ce) || !ce.ConfigError() {
					t.Fatalf("ParseRange(%q) error %T is not a configuration error", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRange(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseRange(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestRangeDays(t *testing.T) {
	r := Range{"2026-02-27", "2026-03-02"}
	got := strings.Join(r.Days(), " ")
	if want := "2026-02-27 2026-02-28 2026-03-01 2026-03-02"; got != want {
		t.Fatalf("Days() = %s, want %s", got, want)
	}
	if r.String() != "2026-02-27..2026-03-02" || (Range{"2026-01-01", "2026-01-01"}).String() != "2026-01-01" {
		t.Fatalf("String() = %s", r)
	}
}

// FuzzParseRange checks that ParseRange never panics, and that every range it
// accepts is well formed and parses back to itself.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"2026-01-07", "2026-01-01..2026-01-04", "today", "yesterday", "last 28 days",
		"last 28 days before 2026-01-07", "last 0 days", "9999-12-31..0001-01-01", "last 36600 days before 0101-01-01", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s, testAsOf)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseRange(%q): error %T is not a *ConfigError", s, err)
			}
			return
		}
		from, err1 := parseDate(r.From)
		to, err2 := parseDate(r.To)
		if err1 != nil || err2 != nil || to.Before(from) {
			t.Fatalf("ParseRange(%q) = %+v: not a well-formed range", s, r)
		}
		back, err := ParseRange(r.String(), testAsOf)
		if err != nil || back != r {
			t.Fatalf("ParseRange(%q) = %+v, but its String %q parses to %+v, %v", s, r, r.String(), back, err)
		}
	})
}
