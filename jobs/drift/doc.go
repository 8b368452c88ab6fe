// Package drift compares a reference range of a table's partitions with a
// current range, column by column, inside DuckDB, and renders the result as
// a versioned JSON report, an aligned text table, markdown, or one
// self-contained HTML file.
//
// Only files listed by partition manifests are read. The statistics
// themselves live in the stats subpackage; this package chooses the columns
// and methods, builds the views, decides the verdicts (per column, for schema
// and volume, and for the dataset) and renders the report. The JSON contract
// is documented in docs/drift-report.md.
package drift
