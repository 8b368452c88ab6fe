// Package lake is the lake layout on top of a storage.Store: table and
// partition paths, partition manifests, contributions, the table's
// _schema.json, quarantine files and run records.
//
// Layout (keys relative to the lake root):
//
//	<table>/_schema.json                           current schema + history
//	<table>/dt=YYYY-MM-DD/part-<run>-<n>.parquet   data files
//	<table>/dt=YYYY-MM-DD/_manifest.json           committed file list
//	<table>/_contributions/<id>.json               partitions a contribution touched
//	_quarantine/<table>/<contribution-id>.parquet  rejected rows
//	_runs/<job>/<run>.json                         one record per run
//	_locks/<table>/dt=YYYY-MM-DD/<seq>.json        partition lease objects
//	_locks/<table>/contribution=<id>/<seq>.json    contribution lease objects
//	_locks/<table>/runs/<run>.json                 liveness markers of running runs
//
// A partition's manifest is the only source of truth: readers use the files
// it lists and nothing else. It is replaced with one atomic Put, after the
// data files it lists were written, so a crash leaves a partition either in
// its old or in its new committed state. Files no manifest lists are garbage
// and are removed by the next commit of that partition, unless a run that is
// still alive (see RunMarker) wrote them.
//
// Commits of concurrent runs are serialised by leases (AcquireLease): each
// commit holds its contribution's lease and the lease of every partition it
// changes, in that order and in ascending date order. Any other writer of
// manifests must take the partition leases the same way. The protocol is
// described in docs/lake-format.md.
package lake
