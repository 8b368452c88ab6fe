package lake

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

var tableRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
var jobRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ValidateTable checks that name can be used as a table name, and so as one
// path segment: lowercase letters, digits and underscores, not starting with
// a digit, at most 63 characters.
func ValidateTable(name string) error {
	if !tableRe.MatchString(name) {
		return fmt.Errorf("invalid table name %q: want lowercase letters, digits and _ (at most 63, not starting with a digit)", name)
	}
	return nil
}

// ValidateJob checks a job name used as a path segment of run records.
func ValidateJob(name string) error {
	if !jobRe.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("invalid job name %q: want letters, digits, '_', '-' and '.'", name)
	}
	return nil
}

// DateLayout is the layout of partition dates.
const DateLayout = "2006-01-02"

// DateString formats days since the Unix epoch as YYYY-MM-DD. Days outside
// years 0001..9999 are never produced by the coercer, which rejects them.
func DateString(days int64) string {
	return time.Unix(days*86400, 0).UTC().Format(DateLayout)
}

// ParseDate parses a YYYY-MM-DD partition date strictly.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil || t.Format(DateLayout) != s {
		return time.Time{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD", s)
	}
	return t, nil
}

// PartitionDir is the key prefix of a partition, with a trailing slash.
func PartitionDir(table, dt string) string { return table + "/dt=" + dt + "/" }

// ManifestKey is the key of a partition's manifest.
func ManifestKey(table, dt string) string { return PartitionDir(table, dt) + ManifestName }

// ArchiveRoot is the key prefix under which `txlake archive` moves
// partitions on stores without storage classes that can move a directory
// atomically (HDFS): <lake>/_archive/<table>/dt=D/ keeps the partition's
// layout. Readers do not see partitions there; `txlake restore` moves them
// back.
const ArchiveRoot = "_archive/"

// ManifestName is the file name of partition manifests.
const ManifestName = "_manifest.json"

// SchemaKey is the key of a table's schema document.
func SchemaKey(table string) string { return table + "/_schema.json" }

// ContributionKey is the key of a contribution's index document.
func ContributionIndexKey(table, id string) string { return table + "/_contributions/" + id + ".json" }

// QuarantineKey is the key of a contribution's quarantine file.
func QuarantineKey(table, id string) string { return "_quarantine/" + table + "/" + id + ".parquet" }

// RunKey is the key of a run record.
func RunKey(job, runID string) string { return "_runs/" + job + "/" + runID + ".json" }

// DataFileName names the n-th data file a run writes into a partition.
func DataFileName(runID string, n int) string { return fmt.Sprintf("part-%s-%d.parquet", runID, n) }

// RewriteFileName names the n-th merged file a run rewrote without its own
// contribution's rows (see Commit.Rewrite).
func RewriteFileName(runID string, n int) string { return fmt.Sprintf("part-%s-r%d.parquet", runID, n) }

// CompactFileName names the n-th file a compaction run writes.
func CompactFileName(runID string, n int) string { return fmt.Sprintf("part-%s-c%d.parquet", runID, n) }

// NewRunID returns a sortable, path-safe run id: UTC time plus random hex.
func NewRunID(now time.Time, random string) string {
	return now.UTC().Format("20060102T150405Z") + "-" + random
}
