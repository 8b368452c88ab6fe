// Package schemas holds txlake's schema file format and everything that
// follows from it: parsing and validating a schema file (Load, Parse), turning
// raw input cells into typed, cleaned values under the schema's rules
// (Schema.NewCoercer, Coercer.Coerce), and mapping the schema to Parquet
// (Schema.ParquetSchema, Schema.AppendRow, Schema.AppendColumn, ValueFromParquet,
// Schema.KeyValueMetadata) and to its stable JSON form (Schema.Doc).
//
// A schema file is YAML:
//
//	table: transactions               # ^[a-z][a-z0-9_]{0,62}$, a path segment in the lake
//	event_time: created_at            # a required timestamp or date field; partitions by its UTC date
//	key: [transaction_id]             # optional unique key
//	fields:
//	  - name: amount                  # ^[A-Za-z_][A-Za-z0-9_]*$, unique ignoring case, not "dt"
//	    type: decimal(18,2)           # string | int64 | float64 | bool | decimal(p,s) | timestamp | date | list<string>
//	    from: [amount, amt]           # source names or dotted JSON paths, tried in order; default [name]
//	    required: true
//	    min: 0                        # numeric types only; max likewise
//	    tags: [money:amount]          # no white space or commas
//	  - name: currency
//	    type: string
//	    normalize: [trim, upper]      # strings only: trim | upper | lower | nfc, in order
//	    pattern: '^[A-Z]{3}$'         # strings only, RE2
//	    enum: [EUR, USD]              # strings only
//	    pii: keep                     # strings only: keep | hash | mask | drop
//	    dictionary: true              # Parquet dictionary encoding; default: true for strings with an enum
//	  - name: created_at
//	    type: timestamp
//	    formats: [rfc3339, unix_ms, "2006-01-02 15:04:05"]  # timestamp default [rfc3339], date default ["2006-01-02"]
//	    required: true
//
// Errors in a schema file are *SchemaError values naming the file, line,
// field and key; they are configuration errors (exit code 2). Coerce's rules
// are documented on Coercer.Coerce.
package schemas
