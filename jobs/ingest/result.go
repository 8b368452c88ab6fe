package ingest

import (
	"time"

	"github.com/txlake/txlake/storage/lake"
)

// ResultVersion is the version of the Result JSON contract.
const ResultVersion = 1

// Result is the outcome of one ingest run. It is printed by --json and
// stored as the run record under _runs/<job>/<run>.json. The JSON form is a
// stable, documented contract (docs/json-contracts.md): fields are only
// added, never renamed or removed, within one version.
type Result struct {
	Version int    `json:"version"`
	RunID   string `json:"run_id"`
	Job     string `json:"job"`
	Table   string `json:"table"`
	Lake    string `json:"lake"`
	DryRun  bool   `json:"dry_run"`
	// Outcome is "committed", "dry_run", "failed" or "threshold_breached".
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`

	Contribution      ContributionResult `json:"contribution"`
	SchemaFingerprint string             `json:"schema_fingerprint"`
	SchemaChanged     bool               `json:"schema_changed"`
	Sources           []SourceResult     `json:"sources"`
	// Pull describes a PostgreSQL pull (absent for file sources).
	Pull *PullResult `json:"pull,omitempty"`

	// rows_read = rows_written + rows_quarantined + rows_duplicate, exactly.
	RowsRead        int64 `json:"rows_read"`
	RowsWritten     int64 `json:"rows_written"`
	RowsQuarantined int64 `json:"rows_quarantined"`
	RowsDuplicate   int64 `json:"rows_duplicate"`
	Reconciled      bool  `json:"reconciled"`
	// RowsReplaced counts the written rows that replaced an older version
	// of their key (update_policy: replace); they are part of rows_written.
	RowsReplaced int64 `json:"rows_replaced,omitempty"`
	// EmptyLines are blank lines; they are not rows and not in rows_read.
	EmptyLines int64 `json:"empty_lines"`
	BytesRead  int64 `json:"bytes_read"` // decompressed bytes

	QuarantineReasons []ReasonCount          `json:"quarantine_reasons"`
	QuarantineFile    string                 `json:"quarantine_file,omitempty"`
	UnknownFields     map[string]int64       `json:"unknown_fields"`
	Partitions        []lake.PartitionResult `json:"partitions"`
	// RuleHits counts, per row rule of the schema (in declaration order),
	// the written rows it tagged. Absent when the schema has no rules.
	RuleHits []RuleHit `json:"rule_hits,omitempty"`

	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	DurationMS int64     `json:"duration_ms"`
	Timings    Timings   `json:"timings_ms"`
}

// ContributionResult identifies the unit of input this run ingested.
type ContributionResult struct {
	ID  string `json:"id"`
	Key string `json:"key"`
	// Replaced is true when an earlier ingest of the same unit existed and
	// this run replaced it.
	Replaced bool `json:"replaced"`
}

// SourceResult describes one input file.
type SourceResult struct {
	URL             string `json:"url"`
	Format          string `json:"format"`
	Compression     string `json:"compression"`
	Bytes           int64  `json:"bytes"` // size as stored
	Checksum        string `json:"checksum"`
	RowsRead        int64  `json:"rows_read"`
	RowsQuarantined int64  `json:"rows_quarantined"`
	EmptyLines      int64  `json:"empty_lines"`
}

// ReasonCount counts quarantined rows per rule and field.
type ReasonCount struct {
	Rule    string `json:"rule"`
	Field   string `json:"field,omitempty"`
	Rows    int64  `json:"rows"`
	Example string `json:"example"` // one full reason, e.g. "field amount: min: must be >= 0"
	// FirstAt locates the first such row: "<source url>:<line>".
	FirstAt string `json:"first_at"`
}

// RuleHit is the number of written rows one row rule tagged.
type RuleHit struct {
	Rule string `json:"rule"`
	Kind string `json:"kind"`
	Rows int64  `json:"rows"`
	// Skipped is true for history rules in a dry run, which writes no
	// files for DuckDB to look at: Rows is then 0.
	Skipped bool `json:"skipped,omitempty"`
}

// Timings splits the run's wall time.
type Timings struct {
	Checksum int64 `json:"checksum"`
	Process  int64 `json:"process"` // read, decode, dedup, write
	// Rules is the history-rule phase: the DuckDB lookups and the final
	// write of the tagged files (0 without history rules).
	Rules  int64 `json:"rules"`
	Commit int64 `json:"commit"`
}
