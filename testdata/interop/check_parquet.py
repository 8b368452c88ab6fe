#!/usr/bin/env python3
"""Interop check: read a txlake table with pyarrow and assert its contract.

Usage: check_parquet.py --lake DIR --table NAME --columns c1,c2,...

Reads only the data files that the partitions' _manifest.json list
(files[].name), never a plain glob, and checks for every file:
  - created_at is timestamp[us, tz=UTC], amount is decimal128(18, 2),
    transaction_id is string;
  - the Parquet key-value metadata has txlake.schema_fingerprint and
    txlake.tags.amount == "money:amount";
  - the column order is the schema's (--columns);
  - the compression codec of every column chunk is ZSTD.
And that the total row count equals the sum of the manifests' rows.

Prints one JSON summary on stdout. Exits 0 when every check passed,
1 when one failed (the summary's "errors" says which), 2 on bad usage.
"""
import argparse
import glob
import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake", required=True)
    ap.add_argument("--table", default="transactions")
    ap.add_argument("--columns", required=True, help="comma-separated stored columns, in schema order")
    args = ap.parse_args()

    want_cols = [c for c in args.columns.split(",") if c]
    table_dir = os.path.join(args.lake, args.table)
    errors = []
    manifests = sorted(glob.glob(os.path.join(table_dir, "dt=*", "_manifest.json")))
    if not manifests:
        errors.append(f"no dt=*/_manifest.json under {table_dir}")

    manifest_rows = 0
    parquet_rows = 0
    files = 0
    partitions = []
    fingerprints = set()
    tag_entries = 0
    want_types = {
        "created_at": pa.timestamp("us", tz="UTC"),
        "amount": pa.decimal128(18, 2),
        "transaction_id": pa.string(),
    }

    for mpath in manifests:
        pdir = os.path.dirname(mpath)
        with open(mpath, encoding="utf-8") as f:
            m = json.load(f)
        manifest_rows += int(m["rows"])
        partitions.append(os.path.basename(pdir))
        listed = m.get("files") or []
        if sum(int(e["rows"]) for e in listed) != int(m["rows"]):
            errors.append(f"{mpath}: files[].rows do not add up to rows")
        for entry in listed:
            path = os.path.join(pdir, entry["name"])
            files += 1
            pf = pq.ParquetFile(path)
            md = pf.metadata
            schema = pf.schema_arrow
            where = os.path.relpath(path, args.lake)

            if md.num_rows != int(entry["rows"]):
                errors.append(f"{where}: {md.num_rows} rows, manifest says {entry['rows']}")
            parquet_rows += md.num_rows

            for name, want in want_types.items():
                idx = schema.get_field_index(name)
                if idx < 0:
                    errors.append(f"{where}: no column {name}")
                elif schema.field(idx).type != want:
                    errors.append(f"{where}: {name} is {schema.field(idx).type}, want {want}")

            if list(schema.names) != want_cols:
                errors.append(f"{where}: columns {schema.names}, want {want_cols}")

            kv = {k.decode(): v.decode() for k, v in (md.metadata or {}).items()}
            fp = kv.get("txlake.schema_fingerprint")
            if not fp:
                errors.append(f"{where}: no txlake.schema_fingerprint in key-value metadata")
            else:
                fingerprints.add(fp)
            if kv.get("txlake.tags.amount") != "money:amount":
                errors.append(f"{where}: txlake.tags.amount = {kv.get('txlake.tags.amount')!r}, want 'money:amount'")

            if md.num_row_groups == 0:
                if md.num_rows:
                    errors.append(f"{where}: rows but no row groups")
                continue
            codec = md.row_group(0).column(0).compression
            if codec != "ZSTD":
                errors.append(f"{where}: compression {codec}, want ZSTD")
            for rg in range(md.num_row_groups):
                for c in range(md.num_columns):
                    cc = md.row_group(rg).column(c).compression
                    if cc != "ZSTD":
                        errors.append(f"{where}: row group {rg} column {c} compression {cc}, want ZSTD")
                        break

            # Decode the data too: every row must be readable.
            t = pf.read()
            if t.num_rows != md.num_rows:
                errors.append(f"{where}: read {t.num_rows} rows, metadata says {md.num_rows}")
            if "tags" in schema.names:
                tt = schema.field("tags").type
                if not (pa.types.is_list(tt) and pa.types.is_string(tt.value_type)):
                    errors.append(f"{where}: tags is {tt}, want list<string>")
                else:
                    tag_entries += sum(len(v) for v in t.column("tags").to_pylist() if v)

    if parquet_rows != manifest_rows:
        errors.append(f"parquet rows {parquet_rows} != manifest rows {manifest_rows}")

    summary = {
        "pyarrow": pa.__version__,
        "partitions": partitions,
        "files": files,
        "rows": parquet_rows,
        "manifest_rows": manifest_rows,
        "schema_fingerprints": sorted(fingerprints),
        "tag_entries": tag_entries,
        "ok": not errors,
        "errors": errors[:50],
    }
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
