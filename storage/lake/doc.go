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
//
// A partition's manifest is the only source of truth: readers use the files
// it lists and nothing else. It is replaced with one atomic Put, after the
// data files it lists were written, so a crash leaves a partition either in
// its old or in its new committed state. Files no manifest lists are garbage
// and are removed by the next commit of that partition.
package lake
