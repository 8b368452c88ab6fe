package lake

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/txlake/txlake/storage"
)

// RunRef names one run record.
type RunRef struct {
	Job   string
	RunID string
}

// ListRuns returns the run records under _runs/ (of job only, unless job
// is ""), newest first: run ids start with their UTC start time.
func ListRuns(ctx context.Context, st storage.Store, job string) ([]RunRef, error) {
	prefix := "_runs/"
	if job != "" {
		if err := ValidateJob(job); err != nil {
			return nil, fmt.Errorf("%w: %v", storage.ErrInvalidKey, err)
		}
		prefix += job + "/"
	}
	var refs []RunRef
	err := st.List(ctx, prefix, func(o storage.ObjectInfo) error {
		j, name, ok := strings.Cut(strings.TrimPrefix(o.Key, "_runs/"), "/")
		id, isJSON := strings.CutSuffix(name, ".json")
		if ok && isJSON && !strings.Contains(id, "/") && ValidateJob(j) == nil {
			refs = append(refs, RunRef{Job: j, RunID: id})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list runs in %s: %w", st.URL(prefix), err)
	}
	sort.Slice(refs, func(a, b int) bool {
		if refs[a].RunID != refs[b].RunID {
			return refs[a].RunID > refs[b].RunID
		}
		return refs[a].Job < refs[b].Job
	})
	return refs, nil
}

// ReadRun decodes the run record of ref into v.
func ReadRun(ctx context.Context, st storage.Store, ref RunRef, v any) error {
	return readJSON(ctx, st, RunKey(ref.Job, ref.RunID), v)
}
