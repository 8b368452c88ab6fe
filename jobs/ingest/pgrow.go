package ingest

// Rendering of fetched PostgreSQL rows as JSON objects, on the txlake side:
// the server sends each column in its text form (cheap), and only types
// without a direct JSON form (arrays, composites, ranges, money, …) are
// converted by the server with to_json. This keeps the pull light on the
// database: row_to_json for every row costs the server about 1.8× a plain
// COPY (docs/performance.md).

import (
	"context"
	"unicode/utf8"
)

// pgColumnKind says how a column's text becomes JSON.
type pgColumnKind uint8

const (
	colString     pgColumnKind = iota // JSON string of the text
	colNumber                         // the text is a JSON number (NaN, Infinity → string)
	colBool                           // t / f
	colJSON                           // json, jsonb: the text is JSON
	colTimestamp                      // "YYYY-MM-DD HH:MM:SS[.f][+zz[:mm]]" → RFC 3339
	colServerJSON                     // converted by the server with to_json
)

type pgColumn struct {
	name string
	kind pgColumnKind
	key  []byte // `"name":` as JSON, with the leading comma for all but the first
}

// Type OIDs of the built-in types rendered on the txlake side.
const (
	oidBool        = 16
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// columns decides each column's rendering. Enums and other string-category
// types are strings; types it does not know are left to the server.
func (p *pgPull) columns(ctx context.Context, names []string, oids []uint32) ([]pgColumn, error) {
	cols := make([]pgColumn, len(names))
	var unknown []uint32
	for i, oid := range oids {
		k, ok := builtinKind(oid)
		if !ok {
			unknown = append(unknown, oid)
		}
		cols[i] = pgColumn{name: names[i], kind: k}
	}
	if len(unknown) > 0 {
		strs := map[uint32]bool{}
		rows, err := p.c.Query(ctx, "SELECT oid, typcategory IN ('S', 'E') FROM pg_type WHERE oid = ANY($1)", unknown)
		if err != nil {
			return nil, p.classify(err, "column types")
		}
		for rows.Next() {
			var oid uint32
			var str bool
			if err := rows.Scan(&oid, &str); err != nil {
				rows.Close()
				return nil, p.classify(err, "column types")
			}
			strs[oid] = str
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, p.classify(err, "column types")
		}
		for i, oid := range oids {
			if _, ok := builtinKind(oid); !ok && !strs[oid] {
				cols[i].kind = colServerJSON
			}
		}
	}
	for i := range cols {
		var key []byte
		if i > 0 {
			key = append(key, ',')
		}
		key = appendJSONString(key, []byte(cols[i].name))
		cols[i].key = append(key, ':')
	}
	return cols, nil
}

func builtinKind(oid uint32) (pgColumnKind, bool) {
	switch oid {
	case oidInt2, oidInt4, oidInt8, oidOID, oidNumeric, oidFloat4, oidFloat8:
		return colNumber, true
	case oidBool:
		return colBool, true
	case oidJSON, oidJSONB:
		return colJSON, true
	case oidTimestamp, oidTimestamptz:
		return colTimestamp, true
	case oidText, oidVarchar, oidBPChar, oidName, oidUUID, oidDate:
		return colString, true
	}
	return colString, false
}

// appendRow appends one fetched row (text format) as a JSON object. Raw
// newlines, which only json values can hold (as whitespace), become spaces:
// the pipeline reads one row per line.
func (p *pgPull) appendRow(b []byte, vals [][]byte) []byte {
	b = append(b, '{')
	for i := range p.cols {
		c := &p.cols[i]
		b = append(b, c.key...)
		v := vals[i]
		if v == nil {
			b = append(b, "null"...)
			continue
		}
		switch c.kind {
		case colNumber:
			if len(v) > 0 && (v[0] == 'N' || v[0] == 'I' || v[0] == '-' && len(v) > 1 && v[1] == 'I') {
				b = appendJSONString(b, v) // NaN, Infinity, -Infinity
			} else {
				b = append(b, v...)
			}
		case colBool:
			if len(v) == 1 && v[0] == 't' {
				b = append(b, "true"...)
			} else {
				b = append(b, "false"...)
			}
		case colJSON, colServerJSON:
			start := len(b)
			b = append(b, v...)
			for j := start; j < len(b); j++ {
				if b[j] == '\n' || b[j] == '\r' {
					b[j] = ' '
				}
			}
		case colTimestamp:
			b = appendRFC3339(b, v)
		default:
			b = appendJSONString(b, v)
		}
	}
	b = append(b, '}', '\n')
	p.scratch = b
	return b
}

// appendRFC3339 turns PostgreSQL's ISO timestamp text
// ("2026-01-05 10:00:00.5+00", "+05:30", no zone for timestamp) into an
// RFC 3339 JSON string ("2026-01-05T10:00:00.5+00:00"). Anything else
// (infinity, BC dates) stays as it is, for the coercer to reject.
func appendRFC3339(b, v []byte) []byte {
	if len(v) < 19 || v[10] != ' ' || v[4] != '-' {
		return appendJSONString(b, v)
	}
	b = append(b, '"')
	b = append(b, v[:10]...)
	b = append(b, 'T')
	rest := v[11:]
	// The zone is the last '+' or '-' after the time of day.
	z := -1
	for j := 8; j < len(rest); j++ {
		if rest[j] == '+' || rest[j] == '-' {
			z = j
			break
		}
	}
	if z < 0 {
		b = append(b, rest...)
	} else {
		b = append(b, rest[:z]...)
		zone := rest[z:]
		b = append(b, zone...)
		if len(zone) == 3 { // +hh
			b = append(b, ":00"...)
		}
	}
	return append(b, '"')
}

// appendJSONString appends s as a JSON string. PostgreSQL sends valid UTF-8
// (the client encoding is UTF8); anything invalid becomes U+FFFD.
func appendJSONString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
