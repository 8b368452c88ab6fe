package lake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/txlake/txlake/storage"
)

// ManifestVersion is the version of the manifest format this code writes.
const ManifestVersion = 1

// Manifest is the committed state of one partition: the union of its
// contributions' files.
type Manifest struct {
	Version int    `json:"version"`
	Table   string `json:"table"`
	Date    string `json:"dt"`
	// Generation counts the commits of this partition, starting at 1.
	Generation int64     `json:"generation"`
	RunID      string    `json:"run_id"` // the run that wrote this version
	Committed  time.Time `json:"committed_at"`
	// SchemaFingerprint is the fingerprint of the schema of the last commit.
	SchemaFingerprint string         `json:"schema_fingerprint"`
	Rows              int64          `json:"rows"`
	Bytes             int64          `json:"bytes"`
	Files             []File         `json:"files"`
	Contributions     []Contribution `json:"contributions"`
}

// File is one data file listed by a manifest.
type File struct {
	Name   string `json:"name"` // file name inside the partition directory
	Bytes  int64  `json:"bytes"`
	Rows   int64  `json:"rows"`
	SHA256 string `json:"sha256"` // lowercase hex
	// Contribution is the id of the contribution the file's rows belong
	// to. It is "" for a file that compaction merged from several
	// contributions; Segments then says whose rows it holds.
	Contribution      string `json:"contribution"`
	SchemaFingerprint string `json:"schema_fingerprint"`
	// Segments, only on a merged file, lists its contributions' rows in
	// file order: the first Segments[0].Rows rows belong to
	// Segments[0].Contribution, the next ones to Segments[1], and so on.
	// Re-ingesting one of them rewrites the file without its rows (see
	// Commit.Rewrite).
	Segments []Segment `json:"segments,omitempty"`
	// StorageClass is the object's storage class when `txlake archive
	// --storage-class` changed it (e.g. "GLACIER_IR"); "" means the store's
	// default class. storage.ClassNeedsRestore tells whether readers can
	// read the file in place.
	StorageClass string `json:"storage_class,omitempty"`
}

// Segment is a run of consecutive rows of a merged file that belong to one
// contribution.
type Segment struct {
	Contribution string `json:"contribution"`
	Rows         int64  `json:"rows"`
}

// Holds reports whether f holds rows of contribution id.
func (f File) Holds(id string) bool {
	if len(f.Segments) == 0 {
		return f.Contribution == id
	}
	for _, s := range f.Segments {
		if s.Contribution == id {
			return true
		}
	}
	return false
}

// RowsByContribution returns how many of the file's rows each contribution
// holds: all of them for a plain file, each segment's for a merged one.
func (f File) RowsByContribution() map[string]int64 {
	if len(f.Segments) == 0 {
		return map[string]int64{f.Contribution: f.Rows}
	}
	out := make(map[string]int64, len(f.Segments))
	for _, s := range f.Segments {
		out[s.Contribution] += s.Rows
	}
	return out
}

// RowRange returns the rows [start, end) of f that belong to contribution
// id, for a merged file; ok is false when f is not merged or holds no rows
// of id. Compaction writes one segment per contribution and file.
func (f File) RowRange(id string) (start, end int64, ok bool) {
	for _, s := range f.Segments {
		if s.Contribution == id {
			return start, start + s.Rows, true
		}
		start += s.Rows
	}
	return 0, 0, false
}

// Contribution is what one unit of input wrote into this partition.
type Contribution struct {
	ID        string    `json:"id"`  // ContributionID(Key)
	Key       string    `json:"key"` // the unit of input, human-readable
	RunID     string    `json:"run_id"`
	Committed time.Time `json:"committed_at"`
	Sources   []Source  `json:"sources"`
	// RowsWritten and RowsDuplicate are this contribution's counts in this
	// partition.
	RowsWritten   int64 `json:"rows_written"`
	RowsDuplicate int64 `json:"rows_duplicate"`
}

// Source is the identity of one input file.
type Source struct {
	URL      string `json:"url"`
	Bytes    int64  `json:"bytes"`
	Checksum string `json:"checksum"` // "sha256:<hex>" or "etag:<etag>"
}

// Key returns the key of the file inside the lake.
func (m *Manifest) Key(f File) string { return PartitionDir(m.Table, m.Date) + f.Name }

// Contribution returns the contribution with id, if any.
func (m *Manifest) Contribution(id string) (Contribution, bool) {
	for _, c := range m.Contributions {
		if c.ID == id {
			return c, true
		}
	}
	return Contribution{}, false
}

// Normalize sorts files and contributions and recomputes the totals.
func (m *Manifest) Normalize() {
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
	sort.Slice(m.Contributions, func(i, j int) bool { return m.Contributions[i].Key < m.Contributions[j].Key })
	m.Rows, m.Bytes = 0, 0
	for _, f := range m.Files {
		m.Rows += f.Rows
		m.Bytes += f.Bytes
	}
}

// Validate checks a manifest read from the lake before it is trusted.
func (m *Manifest) Validate(table, dt string) error {
	if m.Version != ManifestVersion {
		return fmt.Errorf("unsupported manifest version %d (this txlake reads %d)", m.Version, ManifestVersion)
	}
	if m.Table != table || m.Date != dt {
		return fmt.Errorf("manifest names table %q dt %q, expected %q %q", m.Table, m.Date, table, dt)
	}
	for _, f := range m.Files {
		if f.Name == "" || strings.ContainsAny(f.Name, "/\\\x00") || f.Name == "." || f.Name == ".." || strings.HasPrefix(f.Name, "_") {
			return fmt.Errorf("manifest lists an invalid file name %q", f.Name)
		}
		if len(f.Segments) > 0 {
			var rows int64
			seen := map[string]bool{}
			for _, s := range f.Segments {
				if s.Rows <= 0 || s.Contribution == "" || seen[s.Contribution] {
					return fmt.Errorf("manifest file %q has an invalid segment list", f.Name)
				}
				seen[s.Contribution] = true
				rows += s.Rows
			}
			if rows != f.Rows || f.Contribution != "" {
				return fmt.Errorf("manifest file %q: segments hold %d rows of %d", f.Name, rows, f.Rows)
			}
		}
	}
	return nil
}

// ReadManifest reads the manifest of a partition. It returns (nil, nil) when
// the partition has no manifest.
func ReadManifest(ctx context.Context, st storage.Store, table, dt string) (*Manifest, error) {
	key := ManifestKey(table, dt)
	var m Manifest
	if err := readJSON(ctx, st, key, &m); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	if err := m.Validate(table, dt); err != nil {
		return nil, fmt.Errorf("%s: %w", st.URL(key), err)
	}
	return &m, nil
}

// WriteManifest publishes m as the partition's committed state with one
// atomic Put.
func WriteManifest(ctx context.Context, st storage.Store, m *Manifest) error {
	m.Version = ManifestVersion
	m.Normalize()
	return writeJSON(ctx, st, ManifestKey(m.Table, m.Date), m)
}

// ListPartitions returns the dates of a table's committed partitions (those
// with a manifest), ascending.
func ListPartitions(ctx context.Context, st storage.Store, table string) ([]string, error) {
	var dates []string
	prefix := table + "/dt="
	err := st.List(ctx, prefix, func(o storage.ObjectInfo) error {
		rest := strings.TrimPrefix(o.Key, prefix)
		dt, name, ok := strings.Cut(rest, "/")
		if ok && name == ManifestName {
			if _, err := ParseDate(dt); err == nil {
				dates = append(dates, dt)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", st.URL(table), err)
	}
	sort.Strings(dates)
	return dates, nil
}

// ListTables returns the tables of the lake (directories with a _schema.json).
func ListTables(ctx context.Context, st storage.Store) ([]string, error) {
	var tables []string
	err := st.List(ctx, "", func(o storage.ObjectInfo) error {
		t, name, ok := strings.Cut(o.Key, "/")
		if ok && name == "_schema.json" && ValidateTable(t) == nil {
			tables = append(tables, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	sort.Strings(tables)
	return tables, nil
}

func readJSON(ctx context.Context, st storage.Store, key string, v any) error {
	obj, err := st.Open(ctx, key)
	if err != nil {
		return err
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		return fmt.Errorf("read %s: %w", st.URL(key), err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", st.URL(key), err)
	}
	return nil
}

func writeJSON(ctx context.Context, st storage.Store, key string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", st.URL(key), err)
	}
	data = append(data, '\n')
	if err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("write %s: %w", st.URL(key), err)
	}
	return nil
}
