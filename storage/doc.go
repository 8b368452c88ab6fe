// Package storage defines the object store that the lake is written to.
//
// A [Store] is a flat space of immutable objects named by keys such as
// "transactions/dt=2026-01-01/part-r1-0.parquet". Every backend (local files,
// memory, S3, HDFS) implements the same contract, checked by the conformance
// suite in storage/storetest:
//
//   - Keys are validated with [ValidateKey]: "/"-separated, relative, valid
//     UTF-8, with no empty, "." or ".." segment, no NUL and no backslash. An
//     invalid key is rejected with an error wrapping [ErrInvalidKey] before any
//     I/O happens, so no key can reach outside the store's root.
//   - Put is atomic and all-or-nothing: a concurrent reader sees the previous
//     object or the complete new one. A Put whose reader fails, whose context is
//     cancelled, or whose reader yields a byte count different from a
//     non-negative size argument stores nothing and leaves any previous object
//     intact. Of concurrent Puts to one key, one wins whole (last writer wins).
//   - Open and Stat of a missing key return an error wrapping [ErrNotFound].
//   - List visits the objects whose key starts with a prefix in ascending byte
//     order of the full key. The prefix may be "" (everything), end in "/" (a
//     "directory") or end in a partial name ("dt=2026-01-0").
//   - Delete is idempotent.
//   - Errors wrap the sentinels with %w and name the object's URL, for example
//     "put file:///lake/t/x.parquet: ...".
//
// Optional capabilities are separate interfaces found by type assertion:
// [ConditionalPutter] (create-if-absent, used by locks) and [LocalPather]
// (objects are plain local files). Wrappers such as storage/prefix forward them
// only when the wrapped store has them.
//
// Backends are chosen from a lake URL in one place, storage/backend.Open.
package storage
