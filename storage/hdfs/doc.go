// Package hdfs is the hdfs:// storage backend: a storage.Store and
// storage.ConditionalPutter over HDFS, through the pure-Go client
// github.com/colinmarc/hdfs/v2 (no JVM, no libhdfs).
//
// Key "t/dt=2026-01-01/f.parquet" is the HDFS file <root>/t/dt=2026-01-01/f.parquet,
// so Spark, Hive or Trino can read the lake in place.
//
// Writes go to a temporary file under <root>/.txlake-tmp/ and are renamed
// onto the key's path with HDFS's overwriting rename (rename2 with OVERWRITE,
// one NameNode operation): readers see the old file or the whole new one.
// PutIfAbsent claims the key with an exclusive create and then renames the
// finished temporary file over the claim; see [Store.PutIfAbsent] for exactly
// what is atomic there.
//
// HDFS-only rules, beyond storage.ValidateKey:
//   - A key segment starting with ".txlake-" is reserved for the store's own
//     files and is rejected with storage.ErrInvalidKey; List never shows them.
//   - A key segment cannot contain ":" (HDFS refuses such names); such keys
//     are rejected with storage.ErrInvalidKey.
//   - A key cannot be both an object and a "directory" of other objects ("a"
//     and "a/b"), as on a local filesystem.
//
// Not supported: erasure-coded directories (the client cannot read or write
// striped files) and write-pipeline recovery (a DataNode failing mid-write
// fails that Put; a retried Put starts over). See docs/storage-hdfs.md.
package hdfs
