//go:build race

package ingest

// raceEnabled: the race detector makes sync.Pool drop a share of what is
// put back, on purpose, so tests of pooling cannot count allocations.
const raceEnabled = true
