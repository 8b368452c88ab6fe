// Package config reads jobs.yaml: the lake URL, defaults, and the named jobs
// (kinds ingest, drift, archive and verify) that `txlake run`, `backfill`
// and `plan` execute for a date.
//
// Sources and drift ranges are Go templates over the run's date
// ({{ .Date.Format "2006/01/02" }}). Every problem is an *Error naming the
// file and line; Load collects them all into an ErrorList so that
// `txlake jobs validate` reports every mistake at once.
package config
