package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/goccy/go-yaml/ast"

	"github.com/txlake/txlake/jobs/drift"
	"github.com/txlake/txlake/schemas/yamlnode"
	"github.com/txlake/txlake/storage/lake"
	"github.com/txlake/txlake/tagging"
)

// Kind is the kind of a job.
type Kind string

// The job kinds.
const (
	KindIngest  Kind = "ingest"
	KindDrift   Kind = "drift"
	KindArchive Kind = "archive"
	KindVerify  Kind = "verify"
)

// Kinds lists every kind in documentation order.
var Kinds = []Kind{KindIngest, KindDrift, KindArchive, KindVerify}

// File is a parsed jobs.yaml.
type File struct {
	Path string // as given to Load or Parse
	// Lake is the lake URL of the file's `lake` key ("" when absent).
	Lake string
	// Jobs in file order.
	Jobs []*Job
}

// Job returns the job called name, or an *Error listing the known jobs.
func (f *File) Job(name string) (*Job, error) {
	for _, j := range f.Jobs {
		if j.Name == name {
			return j, nil
		}
	}
	names := make([]string, len(f.Jobs))
	for i, j := range f.Jobs {
		names[i] = j.Name
	}
	return nil, &Error{File: f.Path, Msg: fmt.Sprintf("no job %q; the file defines: %s", name, strings.Join(names, ", "))}
}

// Job is one named job. Exactly one of Ingest, Drift, Archive and Verify is
// set, the one of its Kind.
type Job struct {
	Name    string
	Kind    Kind
	Line    int // line of the job's name in the file
	Ingest  *Ingest
	Drift   *Drift
	Archive *Archive
	Verify  *Verify
}

// Table returns the table the job reads or writes; for an ingest job that
// is the schema's table, known only once the schema is loaded ("").
func (j *Job) Table() string {
	switch {
	case j.Drift != nil:
		return j.Drift.Table
	case j.Archive != nil:
		return j.Archive.Table
	case j.Verify != nil:
		return j.Verify.Table
	}
	return ""
}

// Ingest is an ingest job: the sources of a date into the schema's table.
type Ingest struct {
	// Schema is the schema file's path, relative paths resolved against the
	// directory of jobs.yaml.
	Schema string
	// Sources are templates expanding to a path, glob or URL per date.
	Sources []*Template
	Format  string // auto | jsonl | csv
	// MaxQuarantineRatio fails the run with exit 4 above this share of
	// quarantined rows; negative: no limit.
	MaxQuarantineRatio float64
	QuarantineRedact   string // "" | mask | hash
	MaxLineBytes       int    // 0: ingest's default
	Workers            int    // 0: all cores
	// Webhooks receive the run record (JSON) when a run fails or breaches
	// a threshold.
	Webhooks []string
	// Pull options of a postgres:// source (cursor, cursor_lookback,
	// pg_batch_rows, pg_statement_timeout); zero values take ingest's
	// defaults.
	Cursor             string
	CursorLookback     time.Duration
	PGBatchRows        int
	PGStatementTimeout time.Duration
}

// Drift is a drift job: a report comparing ranges relative to the date.
type Drift struct {
	Table string
	// Reference and Current are RANGE templates. After expansion, relative
	// ranges count from the run date: `today` is the run date, `last 28
	// days` the 28 days before it.
	Reference, Current *Template
	Config             string // drift config file ("" for none), resolved like Schema
	FailOnDrift        bool
	FDR                float64
	SegmentBy          string
	MinSegmentRows     int64 // 0: drift's default
	TrendDays          int
	Format             string    // report format; default json
	Out                *Template // report file ("" for stdout)
	Webhooks           []string
}

// Archive is an archive job (compaction, storage class, retention), run by
// the archive implementation when the build has one.
type Archive struct {
	Table          string
	OlderThan      time.Duration
	Compact        bool
	TargetFileSize int64  // bytes; 0: the archive default
	StorageClass   string // "" keeps the class
	ArchiveRoot    string // HDFS: move archived partitions under this root
	StoragePolicy  string // HDFS: set this storage policy instead
	DeleteAfter    time.Duration
	// Yes confirms deletions under DeleteAfter; without it they are listed.
	Yes bool
}

// Verify is a verify job: manifests against objects.
type Verify struct {
	Table string // "" for every table
	// Range limits the partitions (a RANGE template, relative to the run
	// date); nil: every partition.
	Range  *Template
	Repair bool
}

// Error is a problem in jobs.yaml, "FILE:LINE: MSG", a configuration
// error (exit 2). It is the drift package's error type, which has the same
// shape, so that callers check one type.
type Error = drift.ConfigError

// ErrorList is every problem found in one file, in line order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// ConfigError marks the list as a configuration error (exit 2).
func (l ErrorList) ConfigError() bool { return true }

var (
	topKeys     = []string{"lake", "defaults", "jobs"}
	defaultKeys = []string{"format", "max_quarantine_ratio", "quarantine_redact", "max_line_bytes", "workers", "webhooks"}
	kindKeys    = map[Kind][]string{
		KindIngest: {"kind", "description", "schema", "sources", "format", "max_quarantine_ratio", "quarantine_redact", "max_line_bytes", "workers", "webhooks",
			"cursor", "cursor_lookback", "pg_batch_rows", "pg_statement_timeout"},
		KindDrift: {"kind", "description", "table", "reference", "current", "config", "fail_on_drift", "fdr", "segment_by", "min_segment_rows",
			"trend_days", "format", "out", "webhooks"},
		KindArchive: {"kind", "description", "table", "older_than", "compact", "target_file_size", "storage_class", "archive_root", "storage_policy",
			"delete_after", "yes"},
		KindVerify: {"kind", "description", "table", "range", "repair"},
	}
)

// KeysOf returns the keys a job of kind k accepts.
func KeysOf(k Kind) []string { return kindKeys[k] }

// Load reads and parses the jobs file at path. Every error is an *Error or
// an ErrorList, both configuration errors.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := "cannot read jobs file: " + err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			msg = "jobs file not found (give --jobs FILE or set $TXLAKE_JOBS)"
		}
		return nil, &Error{File: path, Msg: msg}
	}
	return Parse(path, data)
}

// Parse parses a jobs file. Relative schema and config paths are resolved
// against the directory of path. It checks syntax, keys, types, names and
// templates; whether the referenced files load is left to the caller.
func Parse(path string, data []byte) (*File, error) {
	p := &parser{file: path, dir: filepath.Dir(path)}
	f := &File{Path: path}
	body, yerr := yamlnode.Document(data)
	if yerr != nil {
		return nil, ErrorList{p.from(yerr)}
	}
	if body == nil {
		return nil, ErrorList{{File: path, Msg: "empty jobs file; want lake, defaults and jobs"}}
	}
	top, ok := p.mapping(body, "jobs file", topKeys)
	if !ok {
		return nil, p.errs
	}
	if e, ok := top["lake"]; ok {
		f.Lake, _ = p.str(e, "lake")
	}
	def := &Ingest{Format: "auto", MaxQuarantineRatio: -1}
	if e, ok := top["defaults"]; ok {
		if keys, ok := p.mapping(e.Value, "defaults", defaultKeys); ok {
			p.ingestOptions(keys, "defaults", def)
		}
	}
	e, ok := top["jobs"]
	if !ok {
		p.errAt(body, "no jobs: add a `jobs:` mapping of job names to jobs")
		return nil, p.errs
	}
	jobs, ok := p.mapping(e.Value, "jobs", nil)
	if !ok {
		return nil, p.errs
	}
	for _, mv := range yamlnode.Ordered(e.Value) {
		name, _ := yamlnode.ScalarText(mv.Key)
		if j := p.job(name, jobs[name], def); j != nil {
			f.Jobs = append(f.Jobs, j)
		}
	}
	if len(f.Jobs) == 0 && len(p.errs) == 0 {
		p.errAt(e.Value, "jobs: no job defined")
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, p.errs
	}
	return f, nil
}

type parser struct {
	file, dir string
	errs      ErrorList
}

func (p *parser) errAt(n ast.Node, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: yamlnode.Line(n), Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) from(e *yamlnode.Error) *Error {
	return &Error{File: p.file, Line: e.Line, Msg: e.Msg}
}

func (p *parser) mapping(n ast.Node, what string, allowed []string) (map[string]yamlnode.Entry, bool) {
	if !yamlnode.IsMapping(n) {
		p.errAt(n, "%s: want a mapping of keys to values, got %s", what, yamlnode.Describe(n))
		return nil, false
	}
	m, err := yamlnode.Mapping(n, what, "jobs files", allowed)
	if err != nil {
		p.errs = append(p.errs, p.from(err))
		return nil, false
	}
	return m, true
}

func (p *parser) str(e yamlnode.Entry, what string) (string, bool) {
	if _, isStr := e.Value.(*ast.StringNode); !isStr {
		if _, isLit := e.Value.(*ast.LiteralNode); !isLit {
			p.errAt(e.Value, "%s: want a string, got %s", what, yamlnode.Describe(e.Value))
			return "", false
		}
	}
	s, _ := yamlnode.ScalarText(e.Value)
	if strings.TrimSpace(s) == "" {
		p.errAt(e.Value, "%s: must not be empty", what)
		return "", false
	}
	if strings.ContainsRune(s, 0) {
		p.errAt(e.Value, "%s: contains a NUL byte", what)
		return "", false
	}
	return s, true
}

// choice reads a string that must be one of allowed.
func (p *parser) choice(e yamlnode.Entry, what string, allowed []string) string {
	s, ok := p.str(e, what)
	if ok && !slices.Contains(allowed, s) {
		p.errAt(e.Value, "%s: %q: want one of %s", what, s, strings.Join(allowed, ", "))
	}
	return s
}

func (p *parser) boolean(e yamlnode.Entry, what string) bool {
	b, ok := e.Value.(*ast.BoolNode)
	if !ok {
		p.errAt(e.Value, "%s: want true or false, got %s", what, yamlnode.Describe(e.Value))
		return false
	}
	return b.Value
}

func (p *parser) number(e yamlnode.Entry, what string) (float64, bool) {
	switch e.Value.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		s, _ := yamlnode.ScalarText(e.Value)
		v, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
		if err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
			return v, true
		}
	}
	p.errAt(e.Value, "%s: want a number, got %s", what, yamlnode.Describe(e.Value))
	return 0, false
}

// whole reads a whole number in [lo, hi].
func (p *parser) whole(e yamlnode.Entry, what string, lo, hi float64) (int64, bool) {
	v, ok := p.number(e, what)
	if !ok {
		return 0, false
	}
	if v != math.Trunc(v) || v < lo || v > hi {
		p.errAt(e.Value, "%s: %v is not a whole number in %v..%v", what, v, lo, hi)
		return 0, false
	}
	return int64(v), true
}

// list reads a string or a list of strings.
func (p *parser) list(e yamlnode.Entry, what string) []yamlnode.Entry {
	seq, ok := e.Value.(*ast.SequenceNode)
	if !ok {
		return []yamlnode.Entry{e}
	}
	out := make([]yamlnode.Entry, 0, len(seq.Values))
	for _, v := range seq.Values {
		out = append(out, yamlnode.Entry{Key: e.Key, Value: v})
	}
	if len(out) == 0 {
		p.errAt(e.Value, "%s: empty list", what)
	}
	return out
}

func (p *parser) path(e yamlnode.Entry, what string) string {
	s, ok := p.str(e, what)
	if !ok {
		return ""
	}
	if filepath.IsAbs(s) || strings.Contains(s, "://") {
		return s
	}
	return filepath.Join(p.dir, s)
}

func (p *parser) webhooks(e yamlnode.Entry, what string) []string {
	var out []string
	for _, v := range p.list(e, what) {
		s, ok := p.str(v, what)
		if !ok {
			continue
		}
		if _, err := drift.ValidateWebhookURL(s); err != nil {
			p.errAt(v.Value, "%s: %v", what, err)
			continue
		}
		out = append(out, s)
	}
	return out
}

// ingestOptions reads the ingest keys shared by defaults and ingest jobs.
func (p *parser) ingestOptions(keys map[string]yamlnode.Entry, what string, dst *Ingest) {
	if e, ok := keys["format"]; ok {
		dst.Format = p.choice(e, what+": format", []string{"auto", "jsonl", "csv"})
	}
	if e, ok := keys["max_quarantine_ratio"]; ok {
		if v, ok := p.number(e, what+": max_quarantine_ratio"); ok {
			if v < 0 || v > 1 {
				p.errAt(e.Value, "%s: max_quarantine_ratio %v: want a ratio between 0 and 1", what, v)
			} else if v < 1 {
				dst.MaxQuarantineRatio = v
			} else {
				dst.MaxQuarantineRatio = -1
			}
		}
	}
	if e, ok := keys["quarantine_redact"]; ok {
		dst.QuarantineRedact = p.choice(e, what+": quarantine_redact", []string{"mask", "hash"})
	}
	if e, ok := keys["max_line_bytes"]; ok {
		if v, ok := p.whole(e, what+": max_line_bytes", 1024, 1<<30); ok {
			dst.MaxLineBytes = int(v)
		}
	}
	if e, ok := keys["workers"]; ok {
		if v, ok := p.whole(e, what+": workers", 0, 4096); ok {
			dst.Workers = int(v)
		}
	}
	if e, ok := keys["webhooks"]; ok {
		dst.Webhooks = p.webhooks(e, what+": webhooks")
	}
	if e, ok := keys["cursor"]; ok {
		dst.Cursor, _ = p.str(e, what+": cursor")
	}
	if e, ok := keys["cursor_lookback"]; ok {
		dst.CursorLookback = p.duration(e, what+": cursor_lookback")
	}
	if e, ok := keys["pg_batch_rows"]; ok {
		if v, ok := p.whole(e, what+": pg_batch_rows", 1, 1_000_000); ok {
			dst.PGBatchRows = int(v)
		}
	}
	if e, ok := keys["pg_statement_timeout"]; ok {
		dst.PGStatementTimeout = p.duration(e, what+": pg_statement_timeout")
	}
}

func (p *parser) job(name string, e yamlnode.Entry, def *Ingest) *Job {
	what := fmt.Sprintf("job %q", name)
	if err := lake.ValidateJob(name); err != nil {
		p.errAt(e.Key, "%s: %v", what, err)
		return nil
	}
	j := &Job{Name: name, Line: yamlnode.Line(e.Key)}
	if !yamlnode.IsMapping(e.Value) {
		p.errAt(e.Value, "%s: want a mapping with a kind (%s), got %s", what, kindList(), yamlnode.Describe(e.Value))
		return nil
	}
	all, ok := p.mapping(e.Value, what, nil)
	if !ok {
		return nil
	}
	ke, ok := all["kind"]
	if !ok {
		p.errAt(e.Key, "%s: no kind; want kind: one of %s", what, kindList())
		return nil
	}
	k, ok := p.str(ke, what+": kind")
	if !ok {
		return nil
	}
	j.Kind = Kind(k)
	if !slices.Contains(Kinds, j.Kind) {
		p.errAt(ke.Value, "%s: unknown kind %q; want one of %s", what, k, kindList())
		return nil
	}
	before := len(p.errs)
	keys, ok := p.mapping(e.Value, what+" ("+k+")", kindKeys[j.Kind])
	if !ok {
		return nil
	}
	switch j.Kind {
	case KindIngest:
		j.Ingest = p.ingest(e, keys, what, def)
	case KindDrift:
		j.Drift = p.drift(e, keys, what)
	case KindArchive:
		j.Archive = p.archive(e, keys, what)
	case KindVerify:
		j.Verify = p.verify(keys, what)
	}
	if len(p.errs) > before {
		return nil
	}
	return j
}

func (p *parser) required(job yamlnode.Entry, keys map[string]yamlnode.Entry, what, key, example string) (yamlnode.Entry, bool) {
	e, ok := keys[key]
	if !ok {
		p.errAt(job.Key, "%s: %s is required, e.g. %s: %s", what, key, key, example)
	}
	return e, ok
}

func (p *parser) ingest(job yamlnode.Entry, keys map[string]yamlnode.Entry, what string, def *Ingest) *Ingest {
	in := *def
	in.Webhooks = slices.Clone(def.Webhooks)
	if e, ok := p.required(job, keys, what, "schema", "schemas/transactions.yaml"); ok {
		in.Schema = p.path(e, what+": schema")
	}
	if e, ok := p.required(job, keys, what, "sources", `'s3://landing/pay/{{ .Date.Format "2006/01/02" }}/*.jsonl.gz'`); ok {
		for _, v := range p.list(e, what+": sources") {
			if t := p.template(v, what+": sources"); t != nil {
				in.Sources = append(in.Sources, t)
			}
		}
	}
	p.ingestOptions(keys, what, &in)
	return &in
}

func (p *parser) table(e yamlnode.Entry, what string) string {
	s, ok := p.str(e, what+": table")
	if !ok {
		return ""
	}
	if err := lake.ValidateTable(s); err != nil {
		p.errAt(e.Value, "%s: %v", what, err)
		return ""
	}
	return s
}

func (p *parser) drift(job yamlnode.Entry, keys map[string]yamlnode.Entry, what string) *Drift {
	d := &Drift{Format: "json"}
	if e, ok := p.required(job, keys, what, "table", "transactions"); ok {
		d.Table = p.table(e, what)
	}
	if e, ok := p.required(job, keys, what, "reference", "last 28 days"); ok {
		d.Reference = p.rangeTemplate(e, what+": reference")
	}
	if e, ok := p.required(job, keys, what, "current", "today"); ok {
		d.Current = p.rangeTemplate(e, what+": current")
	}
	if e, ok := keys["config"]; ok {
		d.Config = p.path(e, what+": config")
	}
	if e, ok := keys["fail_on_drift"]; ok {
		d.FailOnDrift = p.boolean(e, what+": fail_on_drift")
	}
	if e, ok := keys["fdr"]; ok {
		if v, ok := p.number(e, what+": fdr"); ok {
			if !(v > 0 && v < 1) {
				p.errAt(e.Value, "%s: fdr %v: want a false discovery rate in (0, 1)", what, v)
			}
			d.FDR = v
		}
	}
	if e, ok := keys["segment_by"]; ok {
		d.SegmentBy, _ = p.str(e, what+": segment_by")
	}
	if e, ok := keys["min_segment_rows"]; ok {
		d.MinSegmentRows, _ = p.whole(e, what+": min_segment_rows", 1, 1e12)
	}
	if e, ok := keys["trend_days"]; ok {
		v, _ := p.whole(e, what+": trend_days", 14, 3660)
		d.TrendDays = int(v)
	}
	if e, ok := keys["format"]; ok {
		d.Format = p.choice(e, what+": format", drift.Formats)
	}
	if e, ok := keys["out"]; ok {
		d.Out = p.template(e, what+": out")
	}
	if e, ok := keys["webhooks"]; ok {
		d.Webhooks = p.webhooks(e, what+": webhooks")
	}
	return d
}

func (p *parser) archive(job yamlnode.Entry, keys map[string]yamlnode.Entry, what string) *Archive {
	a := &Archive{}
	if e, ok := p.required(job, keys, what, "table", "transactions"); ok {
		a.Table = p.table(e, what)
	}
	if e, ok := p.required(job, keys, what, "older_than", "90d"); ok {
		a.OlderThan = p.duration(e, what+": older_than")
	}
	if e, ok := keys["compact"]; ok {
		a.Compact = p.boolean(e, what+": compact")
	}
	if e, ok := keys["target_file_size"]; ok {
		a.TargetFileSize = p.size(e, what+": target_file_size")
	}
	if e, ok := keys["storage_class"]; ok {
		if s, ok := p.str(e, what+": storage_class"); ok {
			if !storageClassRe.MatchString(s) {
				p.errAt(e.Value, "%s: storage_class %q: want an S3 storage class such as GLACIER_IR, DEEP_ARCHIVE or STANDARD_IA", what, s)
			}
			a.StorageClass = s
		}
	}
	if e, ok := keys["archive_root"]; ok {
		a.ArchiveRoot, _ = p.str(e, what+": archive_root")
	}
	if e, ok := keys["storage_policy"]; ok {
		a.StoragePolicy, _ = p.str(e, what+": storage_policy")
	}
	if e, ok := keys["delete_after"]; ok {
		a.DeleteAfter = p.duration(e, what+": delete_after")
		if a.DeleteAfter > 0 && a.DeleteAfter < a.OlderThan {
			p.errAt(e.Value, "%s: delete_after %s is shorter than older_than %s", what, FormatDuration(a.DeleteAfter), FormatDuration(a.OlderThan))
		}
	}
	if e, ok := keys["yes"]; ok {
		a.Yes = p.boolean(e, what+": yes")
	}
	if !a.Compact && a.StorageClass == "" && a.ArchiveRoot == "" && a.StoragePolicy == "" && a.DeleteAfter == 0 {
		p.errAt(job.Key, "%s: nothing to do; set compact, storage_class, archive_root, storage_policy or delete_after", what)
	}
	return a
}

var storageClassRe = regexp.MustCompile(`^[A-Z][A-Z_]{1,40}$`)

func (p *parser) verify(keys map[string]yamlnode.Entry, what string) *Verify {
	v := &Verify{}
	if e, ok := keys["table"]; ok {
		v.Table = p.table(e, what)
	}
	if e, ok := keys["range"]; ok {
		v.Range = p.rangeTemplate(e, what+": range")
	}
	if e, ok := keys["repair"]; ok {
		v.Repair = p.boolean(e, what+": repair")
	}
	return v
}

func (p *parser) duration(e yamlnode.Entry, what string) time.Duration {
	s, ok := yamlnode.ScalarText(e.Value)
	if !ok {
		p.errAt(e.Value, "%s: want a duration such as 90d, 12w or 36h, got %s", what, yamlnode.Describe(e.Value))
		return 0
	}
	d, err := ParseDuration(s)
	if err != nil {
		p.errAt(e.Value, "%s: %v", what, err)
	}
	return d
}

func (p *parser) size(e yamlnode.Entry, what string) int64 {
	s, ok := yamlnode.ScalarText(e.Value)
	if ok {
		n, err := humanize.ParseBytes(s)
		if err == nil && n >= 1<<20 && n <= 1<<40 {
			return int64(n)
		}
	}
	p.errAt(e.Value, "%s: want a size between 1MiB and 1TiB such as 128MiB, got %q", what, s)
	return 0
}

// ParseDuration parses a retention or age: Go durations (36h) and whole
// days or weeks (90d, 12w). It must be positive.
func ParseDuration(s string) (time.Duration, error) {
	d, err := tagging.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want e.g. 90d, 12w or 36h", strings.TrimSpace(s))
	}
	return d, nil
}

// FormatDuration renders d as whole days when it is, else as Go does.
func FormatDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
