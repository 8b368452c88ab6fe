package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/txlake/txlake/storage"
)

// SchemaFile is the content of <table>/_schema.json: the current schema with
// its field tags, plus every version the table has had.
type SchemaFile struct {
	Version     int             `json:"version"`
	Table       string          `json:"table"`
	Fingerprint string          `json:"fingerprint"`
	Schema      json.RawMessage `json:"schema"`
	History     []SchemaVersion `json:"history"`
}

// SchemaVersion is one schema a table has been written with.
type SchemaVersion struct {
	Fingerprint string          `json:"fingerprint"`
	FirstRun    string          `json:"first_run"`
	Since       time.Time       `json:"since"`
	Schema      json.RawMessage `json:"schema"`
}

// ReadSchemaFile reads a table's _schema.json; (nil, nil) when absent.
func ReadSchemaFile(ctx context.Context, st storage.Store, table string) (*SchemaFile, error) {
	var sf SchemaFile
	if err := readJSON(ctx, st, SchemaKey(table), &sf); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return &sf, nil
}

// RecordSchema makes doc (with fingerprint fp) the table's current schema,
// appending it to the history when it is new. It writes nothing when the
// current schema already has this fingerprint.
func RecordSchema(ctx context.Context, st storage.Store, table, fp string, doc json.RawMessage, runID string, now time.Time) (changed bool, err error) {
	sf, err := ReadSchemaFile(ctx, st, table)
	if err != nil {
		return false, err
	}
	if sf == nil {
		sf = &SchemaFile{Version: 1, Table: table}
	}
	if sf.Fingerprint == fp {
		return false, nil
	}
	sf.Fingerprint, sf.Schema = fp, doc
	known := false
	for _, v := range sf.History {
		if v.Fingerprint == fp {
			known = true
		}
	}
	if !known {
		sf.History = append(sf.History, SchemaVersion{Fingerprint: fp, FirstRun: runID, Since: now.UTC(), Schema: doc})
	}
	return true, writeJSON(ctx, st, SchemaKey(table), sf)
}

// WriteRun stores a run record under _runs/<job>/<run>.json.
func WriteRun(ctx context.Context, st storage.Store, job, runID string, record any) error {
	return writeJSON(ctx, st, RunKey(job, runID), record)
}

// ErrNoTable is returned for a table the lake does not have (no
// _schema.json).
var ErrNoTable = errors.New("no such table")

// RequireTable returns an error wrapping ErrNoTable when table has no
// _schema.json in the lake.
func RequireTable(ctx context.Context, st storage.Store, table string) error {
	sf, err := ReadSchemaFile(ctx, st, table)
	if err != nil {
		return err
	}
	if sf == nil {
		return fmt.Errorf("table %q: %w in the lake %s (check --table and --lake)", table, ErrNoTable, st.URL(""))
	}
	return nil
}
