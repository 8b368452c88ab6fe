package lake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/txlake/txlake/storage"
)

// StateVersion is the version of the pull-state document this code writes.
const StateVersion = 1

// StateKey is the key of a job's pull state (its watermark).
func StateKey(job string) string { return "_state/" + job + ".json" }

// PullState is the watermark of an incremental pull job, _state/<job>.json.
//
// It is written by the commit of a pull, after every partition manifest of
// the pull's contribution (see Commit.AfterManifests), and only then. The
// contribution key of a pull names the watermark it started from, so a
// crash between the manifests and this document leaves the old watermark
// next to a (possibly partial) contribution that the next pull, starting
// from the same watermark, replaces as a whole: no row is skipped and none
// is counted twice. docs/lake-format.md describes the protocol.
type PullState struct {
	Version int    `json:"version"`
	Job     string `json:"job"`
	Table   string `json:"table"`
	// Source identifies the rows pulled: postgres://user@host:port/db and
	// ?table= or ?query= (never a password; driver parameters such as
	// sslmode are left out, as they do not change the rows).
	Source string `json:"source"`
	// Cursor is the column the pull orders and filters by; CursorType its
	// PostgreSQL type (format_type).
	Cursor     string `json:"cursor"`
	CursorType string `json:"cursor_type"`
	// Watermark is the largest cursor value committed, in PostgreSQL's text
	// form ("" before the first pull).
	Watermark string `json:"watermark"`
	// Contribution is the key of the contribution that advanced the
	// watermark to its value.
	Contribution string    `json:"contribution"`
	RunID        string    `json:"run_id"`
	Committed    time.Time `json:"committed_at"`
}

// ReadState reads a job's pull state. It returns (nil, nil) when the job
// has none yet.
func ReadState(ctx context.Context, st storage.Store, job string) (*PullState, error) {
	if err := ValidateJob(job); err != nil {
		return nil, err
	}
	var s PullState
	if err := readJSON(ctx, st, StateKey(job), &s); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	if s.Version != StateVersion {
		return nil, fmt.Errorf("%s: unsupported state version %d (this txlake reads %d)", st.URL(StateKey(job)), s.Version, StateVersion)
	}
	if s.Job != job {
		return nil, fmt.Errorf("%s: names job %q, expected %q", st.URL(StateKey(job)), s.Job, job)
	}
	return &s, nil
}

// WriteState publishes s as its job's pull state with one atomic Put.
func WriteState(ctx context.Context, st storage.Store, s *PullState) error {
	if err := ValidateJob(s.Job); err != nil {
		return err
	}
	s.Version = StateVersion
	return writeJSON(ctx, st, StateKey(s.Job), s)
}
