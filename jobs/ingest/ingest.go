package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/txlake/txlake/jobs/query"
	"github.com/txlake/txlake/schemas"
	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
)

// Options configure one ingest run.
type Options struct {
	Schema  *schemas.Schema
	Sources []string // local paths, globs or file:// URLs
	Format  Format   // auto (by extension, then content), jsonl or csv
	Store   storage.Store
	// LakeURL is the lake's URL for messages and the run record.
	LakeURL string
	DryRun  bool
	// MaxLineBytes is the longest line decoded; longer ones are quarantined
	// with their first 4 KiB. Default 1 MiB.
	MaxLineBytes int
	// MaxQuarantineRatio fails the run (ThresholdError, nothing committed)
	// when rows_quarantined/rows_read exceeds it. Negative disables.
	MaxQuarantineRatio float64
	PIIKey             []byte
	// QuarantineRedact, "mask" or "hash", redacts the values of PII fields
	// in the raw lines kept in quarantine ("" keeps the lines as read).
	QuarantineRedact string
	Workers          int    // decode workers; default GOMAXPROCS
	From, To         string // optional inclusive window of partition dates (YYYY-MM-DD)
	// ContributionKey names the unit of input (job and date for scheduled
	// runs). Empty: the sorted set of source identities.
	ContributionKey string
	Job             string // run-record job name; default "ingest"
	Logger          *slog.Logger
	// Progress, if set, is told the total input bytes and then each chunk
	// of bytes read.
	Progress Progress
	// RowGroupRows caps a Parquet row group (default 262144).
	RowGroupRows int64
	// MaxRowsPerFile starts a new data file in a partition after this many
	// rows (default 10,000,000).
	MaxRowsPerFile int64
	// BufferedRowsBudget bounds the rows buffered in open row groups across
	// all partitions; above it the fullest row groups are flushed.
	BufferedRowsBudget int64
	Now                func() time.Time
	// HistoryBatchRows is about how many rows (the run's and the history's)
	// one history-rule lookup reads at a time; more are looked up in key
	// buckets, each its own query. Default 400,000.
	HistoryBatchRows int64
	// Resolver makes the lake's committed files readable by DuckDB for
	// history rules. Default: in place for a local lake, through the
	// default read cache otherwise.
	Resolver query.Resolver
	// Lock configures the commit's leases: TTL, clock skew allowance and
	// how long to wait for a lease another run holds (Timeout).
	Lock lake.LeaseOptions

	// Shard keeps only this shard's share of the expanded sources (the
	// zero value keeps all); see Shard.Contains.
	Shard Shard
	// CommitGate, shared by the runs of one process (a parallel backfill),
	// keeps a run from loading a partition while another run's commit is
	// under way: that commit's garbage collection would otherwise remove
	// the files the loading run then writes there. nil: no gate. Runs in
	// separate processes rely on the partition lease.
	CommitGate *sync.RWMutex
	// Pull configures a postgres:// source (pgsource.go); with a cursor,
	// Job also names the pull's watermark, _state/<Job>.json.
	Pull PullOptions
}

// commitTimeout bounds the commit phase, which ignores interruption.
const commitTimeout = 5 * time.Minute

// Progress receives progress reports.
type Progress interface {
	Start(totalBytes int64)
	Add(bytes int64)
	Finish()
}

// ThresholdError reports a breached data-quality threshold. Nothing was
// committed. The CLI maps it to exit code 4.
type ThresholdError struct {
	Msg    string
	Result *Result
}

func (e *ThresholdError) Error() string { return e.Msg }

// QualityError marks a ThresholdError for the exit-code mapping.
func (e *ThresholdError) QualityError() bool { return true }

// Run ingests the sources into the lake. On success the result's Outcome is
// "committed" (or "dry_run"). On failure it returns an error and nothing
// was committed, except that a failure during the commit itself may leave
// some partitions committed and others not (each is consistent; a re-run
// completes them), which the result records.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	s := o.Schema
	started := o.Now()
	res := &Result{Version: ResultVersion, Job: o.Job, Table: s.Table, Lake: o.LakeURL, DryRun: o.DryRun,
		SchemaFingerprint: s.Fingerprint, UnknownFields: map[string]int64{}, StartedAt: started.UTC(),
		Partitions: []lake.PartitionResult{}, QuarantineReasons: []ReasonCount{}}

	win, err := parseWindow(o.From, o.To)
	if err != nil {
		return nil, err
	}
	pull, err := o.preparePull(ctx)
	if err != nil {
		return nil, err
	}
	var srcs []*source
	if pull != nil {
		defer pull.close(ctx)
		srcs, o.ContributionKey, res.Pull = []*source{pull.source()}, pull.key, &PullResult{}
	} else {
		srcs, err = resolveSources(ctx, o.Sources, o.Format)
		defer closeSourceStores(srcs)
		if err != nil {
			return nil, err
		}
		srcs = o.Shard.filter(srcs)
	}
	coercers := make([]*schemas.Coercer, o.Workers)
	for i := range coercers {
		if coercers[i], err = s.NewCoercer(schemas.CoerceOptions{PIIKey: o.PIIKey}); err != nil {
			return nil, err
		}
	}
	if err := checkEvolution(ctx, o.Store, s); err != nil {
		return nil, err
	}
	res.RunID = lake.NewRunID(started, randomHex(3))

	t0 := time.Now()
	if err := checksumSources(ctx, srcs, o.Workers); err != nil {
		return nil, err
	}
	res.Timings.Checksum = time.Since(t0).Milliseconds()
	var total int64
	idents := make([]lake.Source, len(srcs))
	for i, src := range srcs {
		idents[i] = src.identity()
		total += src.size
		res.Sources = append(res.Sources, SourceResult{URL: src.url, Format: string(src.fmt), Bytes: src.size, Checksum: src.sum})
	}
	key := o.ContributionKey
	if key == "" {
		key = lake.SourcesKey(idents)
	}
	res.Contribution = ContributionResult{ID: lake.ContributionID(key), Key: key}
	o.Logger.Info("ingest starting", "run", res.RunID, "table", s.Table, "sources", len(srcs), "bytes", total, "contribution", res.Contribution.ID, "dry_run", o.DryRun)

	prevDates, err := lake.PreviousDates(ctx, o.Store, s.Table, key)
	if err != nil {
		return nil, err
	}
	res.Contribution.Replaced = len(prevDates) > 0

	// The run's marker keeps a concurrent commit's garbage collection away
	// from the files this run writes until its own commit lists them.
	var marker *lake.RunMarker
	if !o.DryRun {
		o.Lock.Holder.RunID = res.RunID
		if marker, err = lake.StartRunMarker(ctx, o.Store, s.Table, res.RunID, o.Lock); err != nil {
			return nil, err
		}
		defer func() {
			// Bounded: a marker left behind expires on its own.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
			defer cancel()
			_ = marker.Stop(sctx)
		}()
	}

	t1 := time.Now()
	p := &pipeline{o: o, s: s, srcs: srcs, res: res, win: win, coercers: coercers, contrib: res.Contribution.ID,
		parts: map[int64]*partState{}, reasons: map[[2]string]*ReasonCount{}, ruleHits: make([]int64, len(s.Rules))}
	if s.HistoryRules() && !o.DryRun {
		if p.spool, err = newSpool(); err != nil {
			return nil, err
		}
		defer p.spool.remove()
	}
	if o.Progress != nil {
		o.Progress.Start(total)
	}
	perr := p.run(ctx)
	if o.Progress != nil {
		o.Progress.Finish()
	}
	res.Timings.Process = time.Since(t1).Milliseconds()
	if pull != nil {
		res.Pull = pull.result(o.Store)
	}
	p.finishCounts()
	if perr != nil {
		p.abortAll(perr)
		return o.fail(ctx, res, perr)
	}
	if !res.Reconciled {
		err := fmt.Errorf("internal error: rows do not reconcile: read %d != written %d + quarantined %d + duplicate %d; nothing committed",
			res.RowsRead, res.RowsWritten, res.RowsQuarantined, res.RowsDuplicate)
		p.abortAll(err)
		return o.fail(ctx, res, err)
	}
	if o.MaxQuarantineRatio >= 0 && res.RowsRead > 0 {
		ratio := float64(res.RowsQuarantined) / float64(res.RowsRead)
		if ratio > o.MaxQuarantineRatio {
			msg := fmt.Sprintf("quarantined %d of %d rows (%.2f%%), above --max-quarantine-ratio %.4g; nothing committed",
				res.RowsQuarantined, res.RowsRead, 100*ratio, o.MaxQuarantineRatio)
			if len(res.QuarantineReasons) > 0 {
				r := res.QuarantineReasons[0]
				msg += fmt.Sprintf("; top reason: %s (%d rows, first at %s)", r.Example, r.Rows, r.FirstAt)
			}
			terr := &ThresholdError{Msg: msg, Result: res}
			p.abortAll(terr)
			res.Outcome, res.Error = "threshold_breached", msg
			o.finishResult(res)
			if !o.DryRun {
				o.writeRun(ctx, res)
			}
			return res, terr
		}
	}
	if p.spool != nil {
		t := time.Now()
		err := p.applyHistoryRules(ctx)
		res.Timings.Rules = time.Since(t).Milliseconds()
		res.RuleHits = p.ruleHitsResult()
		if err != nil {
			p.abortAll(err)
			return o.fail(ctx, res, err)
		}
	}
	if o.DryRun {
		p.dryRunPartitions(prevDates)
		res.Outcome = "dry_run"
		o.finishResult(res)
		return res, nil
	}

	// Commit.
	t2 := time.Now()
	now := o.Now().UTC()
	doc, err := json.Marshal(s.Doc())
	if err != nil {
		p.abortAll(err)
		return o.fail(ctx, res, err)
	}
	if res.SchemaChanged, err = lake.RecordSchema(ctx, o.Store, s.Table, s.Fingerprint, doc, res.RunID, now); err != nil {
		p.abortAll(err)
		return o.fail(ctx, res, err)
	}
	qkey := lake.QuarantineKey(s.Table, res.Contribution.ID)
	if p.qw != nil && p.qw.rows > 0 {
		if err := p.qw.finish(); err != nil {
			p.abortAll(err)
			return o.fail(ctx, res, err)
		}
		res.QuarantineFile = o.Store.URL(qkey)
	}
	// The quarantine file is replaced (or removed) once the manifests are
	// committed: it never shows rows of data that did not commit.
	publishQuarantine := func(ctx context.Context) error {
		if p.qw != nil && p.qw.rows > 0 {
			if err := p.qw.publish(ctx, o.Store, qkey); err != nil {
				return err
			}
		} else if err := o.Store.Delete(ctx, qkey); err != nil {
			return fmt.Errorf("remove the earlier quarantine file: %w", err)
		}
		if pull != nil {
			return pull.commitState(ctx, o.Store, s.Table, res.RunID, now)
		}
		return nil
	}
	commit := &lake.Commit{Table: s.Table, RunID: res.RunID, ContributionKey: key, Sources: idents,
		SchemaFingerprint: s.Fingerprint, Partitions: map[string]*lake.PartitionWrite{},
		SeenGeneration: map[string]int64{}, Now: now, AfterManifests: publishQuarantine,
		Lock: o.Lock, Run: marker, Rebase: p.rebase, WaitContext: ctx}
	rewrites := 0
	commit.Rewrite = func(ctx context.Context, dt string, f lake.File, drop string) (lake.File, error) {
		rewrites++
		return RewriteWithout(ctx, o.Store, s.Table, dt, f, drop, lake.RewriteFileName(res.RunID, rewrites))
	}
	for day, ps := range p.parts {
		dt := lake.DateString(day)
		commit.Partitions[dt] = &lake.PartitionWrite{Files: ps.w.files, RowsWritten: ps.written, RowsDuplicate: ps.dup, Rewrites: ps.rewrites}
		commit.SeenGeneration[dt] = ps.gen
	}
	// Once the commit starts it runs to the end even if the run is
	// interrupted (Ctrl-C, SIGTERM): it is a handful of small writes, and
	// finishing it is what leaves nothing half-committed. A stuck store
	// still ends it through the timeout.
	// Waiting for another run's leases (--lock-timeout) comes on top, and
	// an interruption does stop that wait.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout+o.Lock.MaxWait())
	if o.CommitGate != nil {
		o.CommitGate.Lock()
	}
	parts, err := commit.Apply(cctx, o.Store)
	if o.CommitGate != nil {
		o.CommitGate.Unlock()
	}
	cancel()
	if p.qw != nil {
		p.qw.discard()
	}
	res.Partitions = parts
	res.Timings.Commit = time.Since(t2).Milliseconds()
	if err != nil {
		return o.fail(ctx, res, fmt.Errorf("commit: %w", err))
	}
	res.Outcome = "committed"
	o.finishResult(res)
	o.writeRun(ctx, res)
	o.Logger.Info("ingest committed", "run", res.RunID, "rows_read", res.RowsRead, "rows_written", res.RowsWritten,
		"rows_quarantined", res.RowsQuarantined, "rows_duplicate", res.RowsDuplicate, "partitions", len(res.Partitions))
	return res, nil
}

func (o *Options) defaults() error {
	if o.Schema == nil {
		return errors.New("ingest: no schema")
	}
	if o.Store == nil {
		return errors.New("ingest: no lake store")
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 1 << 20
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Job == "" {
		o.Job = "ingest"
	}
	switch o.QuarantineRedact {
	case "", schemas.RedactMask:
	case schemas.RedactHash:
		if len(o.PIIKey) == 0 {
			return &SourceError{Source: "--quarantine-redact hash", Reason: "needs $TXLAKE_PII_KEY for the HMAC key"}
		}
	default:
		return &SourceError{Source: "--quarantine-redact", Reason: fmt.Sprintf("%q: want mask or hash", o.QuarantineRedact)}
	}
	if err := lake.ValidateJob(o.Job); err != nil {
		return &SourceError{Source: o.Job, Reason: err.Error()}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = 122_880 // DuckDB's default row group size
	}
	if o.MaxRowsPerFile <= 0 {
		o.MaxRowsPerFile = 10_000_000
	}
	if o.BufferedRowsBudget <= 0 {
		o.BufferedRowsBudget = 300_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Format == "" {
		o.Format = FormatAuto
	}
	if o.LakeURL == "" {
		o.LakeURL = o.Store.URL("")
	}
	return nil
}

func (o *Options) finishResult(res *Result) {
	res.FinishedAt = o.Now().UTC()
	res.DurationMS = res.FinishedAt.Sub(res.StartedAt).Milliseconds()
}

func (o *Options) fail(ctx context.Context, res *Result, err error) (*Result, error) {
	res.Outcome, res.Error = "failed", err.Error()
	o.finishResult(res)
	if !o.DryRun {
		o.writeRun(ctx, res) // best effort, also when interrupted
	}
	return res, err
}

func (o *Options) writeRun(ctx context.Context, res *Result) {
	// The record is written even when the run was interrupted.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := lake.WriteRun(ctx, o.Store, o.Job, res.RunID, res); err != nil {
		o.Logger.Warn("could not write the run record", "err", err)
	}
}

func parseWindow(from, to string) (*window, error) {
	if from == "" && to == "" {
		return nil, nil
	}
	if from == "" || to == "" {
		return nil, &SourceError{Source: "--from/--to", Reason: "give both --from and --to, or --date"}
	}
	f, err := lake.ParseDate(from)
	if err != nil {
		return nil, &SourceError{Source: "--from", Reason: err.Error()}
	}
	t, err := lake.ParseDate(to)
	if err != nil {
		return nil, &SourceError{Source: "--to", Reason: err.Error()}
	}
	if t.Before(f) {
		return nil, &SourceError{Source: "--from/--to", Reason: "--to is before --from"}
	}
	text := from + ".." + to
	if from == to {
		text = from
	}
	return &window{from: f.Unix() / 86400, to: t.Unix() / 86400, text: text}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// partState is the run's view of one partition.
type partState struct {
	day     int64
	gen     int64          // manifest generation when loaded
	seen    *lake.Manifest // the manifest loaded (nil: none)
	keys    *keySet
	w       *partWriter
	written int64
	dup     int64
	pending int64 // rows sent since the last flush
	msg     partMsg
	// update_policy: replace (replace.go)
	versions *versionIndex
	replaced int64
	rewrites []lake.Rewrite
}

type pipeline struct {
	o        Options
	s        *schemas.Schema
	srcs     []*source
	res      *Result
	win      *window
	coercers []*schemas.Coercer
	contrib  string
	parts    map[int64]*partState
	qw       *quarantineWriter
	reasons  map[[2]string]*ReasonCount
	srcStats []SourceResult
	buffered int64
	wg       errgroup.Group
	ctx      context.Context
	spool    *spool  // where the writers write when the schema has history rules
	ruleHits []int64 // rows tagged, per rule of the schema
	// inflight bounds the chunks read but not yet applied: the reader takes
	// a token per chunk, the consumer returns it after applying the batch.
	// Without it a stalled worker lets the others fill the consumer's
	// reorder buffer without limit.
	inflight chan struct{}
}

func (p *pipeline) run(ctx context.Context) error {
	// Writers use the run's context: the group's context is cancelled as
	// soon as the group ends, before the writers are closed.
	p.ctx = ctx
	g, ctx := errgroup.WithContext(ctx)
	p.srcStats = make([]SourceResult, len(p.srcs))
	if !p.o.DryRun {
		qw, err := newQuarantineWriter()
		if err != nil {
			return err
		}
		p.qw = qw
	}
	chunks := make(chan *chunk, p.o.Workers)
	batches := make(chan *batch, p.o.Workers)
	p.inflight = make(chan struct{}, 4*p.o.Workers)
	var bytesRead atomic.Int64

	g.Go(func() error {
		defer close(chunks)
		return p.read(ctx, chunks, &bytesRead)
	})
	var workers errgroup.Group
	for i := 0; i < p.o.Workers; i++ {
		d := newDecoder(p.s, p.coercers[i], p.o.MaxLineBytes, p.win)
		d.redact = newRedactor(p.s, p.coercers[i], p.o.QuarantineRedact)
		workers.Go(func() error {
			for c := range chunks {
				b := d.decode(c, p.srcs[c.src].fmt)
				c.release()
				select {
				case batches <- b:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		err := workers.Wait()
		close(batches)
		return err
	})
	g.Go(func() error {
		err := p.consume(ctx, batches)
		if err != nil {
			for range batches { // unblock workers
			}
		}
		return err
	})
	err := g.Wait()
	if err == nil {
		err = p.closeWriters()
	}
	if err == nil {
		err = p.rewriteReplaced(p.ctx)
	}
	return err
}

// read opens each source in turn and cuts it into chunks.
func (p *pipeline) read(ctx context.Context, out chan<- *chunk, bytesRead *atomic.Int64) error {
	var seq int64
	chunkSize := 2 << 20
	if p.o.MaxLineBytes+1 > chunkSize {
		chunkSize = p.o.MaxLineBytes + 1
	}
	for i, src := range p.srcs {
		var onRead func(int64)
		if p.o.Progress != nil {
			onRead = p.o.Progress.Add
		}
		os, err := openSource(ctx, src, onRead)
		if err != nil {
			return err
		}
		p.res.Sources[i].Compression = string(os.comp)
		err = func() error {
			defer os.closer()
			lr := newLineReader(os.r, chunkSize, p.o.MaxLineBytes)
			var header *csvHeader
			format := src.fmt
			first := true
			for {
				c, err := lr.next(ctx)
				if err == io.EOF {
					break
				}
				if err != nil {
					if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
						return err
					}
					if os.comp != compNone {
						return &TruncatedError{URL: src.url, Compression: os.comp, Offset: os.raw.n, Err: err}
					}
					return fmt.Errorf("read %s: %w", src.url, err)
				}
				if first {
					first = false
					if format == FormatAuto {
						format = sniffFormat(c)
						src.fmt = format
						p.res.Sources[i].Format = string(format)
					}
					if format == FormatCSV {
						if c.long != nil {
							return fmt.Errorf("source %s: CSV header line is longer than --max-line-bytes", src.url)
						}
						h, rest, err := p.takeHeader(c)
						if err != nil {
							return &SourceError{Source: src.url, Reason: err.Error()}
						}
						header = h
						if len(header.unknown) > 0 {
							p.o.Logger.Info("CSV columns not in the schema are ignored", "source", src.url, "columns", header.unknown)
						}
						c = rest
					}
				}
				c.seq, c.src, c.header = seq, i, header
				seq++
				select {
				case p.inflight <- struct{}{}:
				case <-ctx.Done():
					return ctx.Err()
				}
				select {
				case out <- c:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if format == FormatCSV && header == nil && !first {
				return &SourceError{Source: src.url, Reason: "CSV source has no header line"}
			}
			return nil
		}()
		if err != nil {
			return err
		}
		bytesRead.Add(src.size)
	}
	return nil
}

// takeHeader splits the CSV header line off the first chunk.
func (p *pipeline) takeHeader(c *chunk) (*csvHeader, *chunk, error) {
	data := c.data
	line := c.firstLine
	off := c.firstOffset
	for {
		i := bytes.IndexByte(data, '\n')
		ln := data
		if i >= 0 {
			ln = data[:i+1]
		}
		trimmed := trimBOM(ln, off)
		if len(bytes.TrimSpace(trimmed)) == 0 && i >= 0 {
			// leading blank lines before the header
			data = data[i+1:]
			line++
			off += int64(len(ln))
			if len(data) == 0 {
				return nil, nil, fmt.Errorf("CSV source has no header line")
			}
			continue
		}
		h, err := parseCSVHeader(trimmed, p.s)
		if err != nil {
			return nil, nil, err
		}
		rest := data[len(ln):]
		// The rest may be empty; the chunk still accounts for the bytes read.
		return h, &chunk{data: rest, buf: c.buf, firstLine: line + 1, firstOffset: off + int64(len(ln)), bytes: c.bytes}, nil
	}
}

func sniffFormat(c *chunk) Format {
	data := c.data
	if c.long != nil {
		data = c.long.head
	}
	data = trimBOM(data, 0)
	for _, b := range data {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return FormatJSONL
		default:
			return FormatCSV
		}
	}
	return FormatJSONL
}

// consume applies batches in input order: dedup, partition routing,
// quarantine.
func (p *pipeline) consume(ctx context.Context, in <-chan *batch) error {
	pending := map[int64]*batch{}
	var next int64
	for b := range in {
		pending[b.seq] = b
		for {
			nb, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if err := p.apply(ctx, nb); err != nil {
				return err
			}
			<-p.inflight
		}
	}
	if len(pending) > 0 && ctx.Err() == nil {
		return fmt.Errorf("internal error: %d batches left unordered", len(pending))
	}
	return nil
}

func (p *pipeline) apply(ctx context.Context, b *batch) error {
	st := &p.srcStats[b.src]
	st.RowsRead += b.read
	st.EmptyLines += b.empty
	st.RowsQuarantined += int64(len(b.q))
	p.res.BytesRead += b.bytes
	for k, n := range b.unknown {
		if _, ok := p.res.UnknownFields[k]; ok || len(p.res.UnknownFields) < 100 {
			p.res.UnknownFields[k] += n
		}
	}
	src := p.srcs[b.src]
	for _, q := range b.q {
		key := [2]string{q.rule, q.field}
		rc := p.reasons[key]
		if rc == nil {
			rc = &ReasonCount{Rule: q.rule, Field: q.field, Example: q.reason, FirstAt: fmt.Sprintf("%s:%d", src.url, q.line)}
			p.reasons[key] = rc
		}
		rc.Rows++
		if p.qw != nil {
			if err := p.qw.write(QuarantineRecord{RunID: p.res.RunID, Source: src.url, Line: q.line, Offset: q.offset,
				Rule: q.rule, Field: q.field, Reason: q.reason, Raw: q.raw, RawText: rawText(q.raw),
				RawBytes: q.length, RawTruncated: int64(len(q.raw)) < q.length}); err != nil {
				return err
			}
		}
	}
	touched := map[*partState]bool{}
	for r, day := range b.days {
		ps, err := p.partition(ctx, day)
		if err != nil {
			return err
		}
		if len(b.keys) > 0 {
			k := b.keys[r]
			if !ps.keys.Add(k) && !ps.replaces(b, r, k, p.s.VersionIndex) {
				ps.dup++
				continue
			}
		}
		ps.written++
		if len(b.hits) > 0 { // not b.hits != nil: a recycled batch keeps its buffer
			for h := b.hits[r]; h != 0; h &= h - 1 {
				p.ruleHits[bits.TrailingZeros64(h)]++
			}
		}
		if ps.w != nil {
			if ps.msg.b == nil {
				ps.msg.b = b
			}
			ps.msg.rows = append(ps.msg.rows, int32(r))
			ps.msg.n++
			touched[ps] = true
		}
	}
	b.hold(len(touched))
	for ps := range touched {
		ps.pending += int64(ps.msg.n)
		p.buffered += int64(ps.msg.n)
		if err := p.send(ctx, ps, false); err != nil {
			return err
		}
	}
	// Bound memory: flush the fullest open row groups when the rows
	// buffered across partitions exceed the budget.
	for p.buffered > p.o.BufferedRowsBudget {
		var max *partState
		for _, ps := range p.parts {
			if ps.w != nil && (max == nil || ps.pending > max.pending) {
				max = ps
			}
		}
		if max == nil || max.pending == 0 {
			break
		}
		if err := p.send(ctx, max, true); err != nil {
			return err
		}
	}
	return nil
}

func (p *pipeline) send(ctx context.Context, ps *partState, flush bool) error {
	msg := ps.msg
	msg.flush = flush
	if flush {
		p.buffered -= ps.pending
		ps.pending = 0
	} else if ps.pending >= p.o.RowGroupRows {
		// the writer closed a row group by itself
		p.buffered -= ps.pending
		ps.pending %= p.o.RowGroupRows
		p.buffered += ps.pending
	}
	ps.msg = partMsg{}
	select {
	case ps.w.ch <- msg:
		return nil
	case err := <-ps.w.done:
		ps.w.done <- err
		if err == nil {
			err = errors.New("partition writer stopped")
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipeline) partition(ctx context.Context, day int64) (*partState, error) {
	if ps, ok := p.parts[day]; ok {
		return ps, nil
	}
	dt := lake.DateString(day)
	if g := p.o.CommitGate; g != nil {
		g.RLock()
		defer g.RUnlock()
	}
	m, err := lake.ReadManifest(ctx, p.o.Store, p.s.Table, dt)
	if err != nil {
		return nil, err
	}
	ks, err := loadKeys(ctx, p.o.Store, p.s, m, p.contrib)
	if err != nil {
		return nil, err
	}
	ps := &partState{day: day, keys: ks, seen: m}
	if p.s.UpdatePolicy == schemas.UpdateReplace {
		if ps.versions, err = loadVersions(ctx, p.o.Store, p.s, m, p.contrib); err != nil {
			return nil, err
		}
	}
	if m != nil {
		ps.gen = m.Generation
	}
	if !p.o.DryRun {
		var extra []parquet.WriterOption
		if p.spool != nil {
			// Spooled files are read back once, locally: favour speed.
			extra = append(extra, parquet.Compression(&parquet.Snappy))
		}
		ps.w = &partWriter{ctx: p.ctx, st: p.storeOf(), s: p.s, pschema: p.s.ParquetSchema(), table: p.s.Table, dt: dt,
			runID: p.res.RunID, contrib: p.contrib, rowGroupRows: p.o.RowGroupRows, maxRows: p.o.MaxRowsPerFile, extra: extra,
			ch: make(chan partMsg, 2), done: make(chan error, 1)}
		go ps.w.run()
	}
	p.parts[day] = ps
	return ps, nil
}

// closeWriters finishes every partition's files.
func (p *pipeline) closeWriters() error {
	var first error
	for _, ps := range p.parts {
		if ps.w == nil {
			continue
		}
		close(ps.w.ch)
	}
	for _, ps := range p.parts {
		if ps.w == nil {
			continue
		}
		err := <-ps.w.done
		ps.w.done <- err
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// abortAll cancels every in-flight Put: nothing of this run is stored.
// Files already stored stay as garbage until the partition's next commit.
func (p *pipeline) abortAll(err error) {
	for _, ps := range p.parts {
		if ps.w == nil || ps.w.done == nil { // no writer, or one of the history phase (synchronous)
			continue
		}
		select {
		case <-ps.w.done:
		default:
			func() {
				defer func() { recover() }() // channel may be closed already
				close(ps.w.ch)
			}()
			<-ps.w.done
		}
	}
	if p.qw != nil {
		p.qw.discard()
	}
	// Remove the files this run already stored, so a plain glob of the
	// partitions shows no rows of a run that did not commit.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 30*time.Second)
	defer cancel()
	for _, ps := range p.parts {
		if ps.w == nil {
			continue
		}
		for _, f := range ps.w.files {
			key := lake.PartitionDir(p.s.Table, lake.DateString(ps.day)) + f.Name
			if derr := p.o.Store.Delete(ctx, key); derr != nil {
				p.o.Logger.Warn("could not remove a file of the failed run; the next commit of the partition removes it", "file", p.o.Store.URL(key), "err", derr)
			}
		}
		for _, derr := range ps.removeRewrites(ctx, p.o.Store, p.s.Table) {
			p.o.Logger.Warn("could not remove a file of the failed run; the next commit of the partition removes it", "err", derr)
		}
	}
}

func (p *pipeline) finishCounts() {
	res := p.res
	for i := range p.srcStats {
		res.Sources[i].RowsRead = p.srcStats[i].RowsRead
		res.Sources[i].RowsQuarantined = p.srcStats[i].RowsQuarantined
		res.Sources[i].EmptyLines = p.srcStats[i].EmptyLines
		res.RowsRead += p.srcStats[i].RowsRead
		res.RowsQuarantined += p.srcStats[i].RowsQuarantined
		res.EmptyLines += p.srcStats[i].EmptyLines
	}
	for _, ps := range p.parts {
		res.RowsWritten += ps.written
		res.RowsDuplicate += ps.dup
		res.RowsReplaced += ps.replaced
	}
	res.Reconciled = res.RowsRead == res.RowsWritten+res.RowsQuarantined+res.RowsDuplicate
	res.RuleHits = p.ruleHitsResult()
	for _, rc := range p.reasons {
		res.QuarantineReasons = append(res.QuarantineReasons, *rc)
	}
	sort.Slice(res.QuarantineReasons, func(i, j int) bool {
		a, b := res.QuarantineReasons[i], res.QuarantineReasons[j]
		if a.Rows != b.Rows {
			return a.Rows > b.Rows
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Field < b.Field
	})
}

// dryRunPartitions fills the partition list a commit would produce.
func (p *pipeline) dryRunPartitions(prevDates []string) {
	seen := map[string]bool{}
	prev := map[string]bool{}
	for _, dt := range prevDates {
		prev[dt] = true
	}
	for day, ps := range p.parts {
		dt := lake.DateString(day)
		seen[dt] = true
		action := "created"
		if ps.gen > 0 {
			action = "updated"
			if prev[dt] {
				action = "replaced" // as Commit.Apply reports it
			}
		}
		p.res.Partitions = append(p.res.Partitions, lake.PartitionResult{Date: dt, Action: action, RowsWritten: ps.written, RowsDuplicate: ps.dup, Generation: ps.gen + 1})
	}
	for _, dt := range prevDates {
		if !seen[dt] {
			p.res.Partitions = append(p.res.Partitions, lake.PartitionResult{Date: dt, Action: "removed"})
		}
	}
	sort.Slice(p.res.Partitions, func(i, j int) bool { return p.res.Partitions[i].Date < p.res.Partitions[j].Date })
}

// checkEvolution refuses a schema whose columns the table's earlier files
// hold in a shape readers cannot combine with it (Schema.CheckEvolution).
func checkEvolution(ctx context.Context, st storage.Store, s *schemas.Schema) error {
	sf, err := lake.ReadSchemaFile(ctx, st, s.Table)
	if err != nil || sf == nil {
		return err
	}
	var docs []schemas.Doc
	for _, v := range sf.History {
		var d schemas.Doc
		if err := json.Unmarshal(v.Schema, &d); err != nil {
			return fmt.Errorf("read %s: schema %s: %w", st.URL(lake.SchemaKey(s.Table)), v.Fingerprint, err)
		}
		d.Fingerprint = v.Fingerprint
		docs = append(docs, d)
	}
	if serr := s.CheckEvolution(docs); serr != nil {
		return serr
	}
	return nil
}
