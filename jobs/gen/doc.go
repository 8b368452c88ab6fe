// Package gen writes deterministic synthetic transaction logs for testing
// txlake end to end.
//
// Generate writes one file per UTC day, as JSON lines or CSV, optionally gzip
// or zstd compressed, that match schemas/transactions.yaml: a stable customer
// population with home countries, currencies, emails and Luhn-valid card
// numbers; log-normal amounts per merchant category; a daily rhythm of event
// times; and the mess real producers send (legacy "amt" keys, amounts as
// strings, three timestamp formats, stray casing and whitespace).
//
// At Options.FaultRate a row slot carries a deliberate fault of one of the
// kinds listed by FaultKinds, and an optional Drift changes the data from a
// given day on, so drift reports have something to find.
//
// Output is a pure function of Options (apart from OutDir and Parallelism):
// each day has its own PRNG seeded from (Seed, day), so the bytes are the same
// however many days are generated concurrently.
package gen
