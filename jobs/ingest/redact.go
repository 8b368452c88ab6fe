package ingest

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/txlake/txlake/schemas"
)

// redactor rewrites the raw lines kept in quarantine so that the values of
// PII fields do not stay there in clear (ingest --quarantine-redact). The raw
// line is otherwise the one place in the lake where unmasked PII can remain.
//
// JSON lines are redacted by pattern, so that malformed and truncated lines
// (the usual reason a line is quarantined) are redacted too: every
// `"<name>": "<string>"` or `"<name>": <number>` whose name is a source name
// (or the last segment of a dotted path) of a PII field has its value
// replaced. CSV lines have their PII columns replaced; a CSV line that cannot
// be split into the header's columns is replaced whole.
type redactor struct {
	mode string
	c    *schemas.Coercer
	json []*regexp.Regexp // one per PII source name
	pii  []int            // PII field indexes
}

func newRedactor(s *schemas.Schema, c *schemas.Coercer, mode string) *redactor {
	if mode == "" {
		return nil
	}
	r := &redactor{mode: mode, c: c}
	names := map[string]bool{}
	for i := range s.Fields {
		if !s.IsPIIField(i) {
			continue
		}
		r.pii = append(r.pii, i)
		for _, p := range s.Fields[i].FromPaths {
			names[p[len(p)-1]] = true
		}
	}
	if len(r.pii) == 0 {
		return nil
	}
	for n := range names {
		q := regexp.QuoteMeta(n)
		r.json = append(r.json, regexp.MustCompile(`("`+q+`"\s*:\s*)(?:"((?:[^"\\]|\\.)*)("|$)|(-?[0-9][0-9.eE+-]*))`))
	}
	return r
}

// redactedLine is what replaces a line that cannot be redacted field by field.
const redactedLine = "[txlake: line redacted by --quarantine-redact: its PII fields could not be located]"

func (r *redactor) line(raw []byte, format Format, h *csvHeader) []byte {
	if format == FormatCSV {
		return r.csv(raw, h)
	}
	out := raw
	for _, re := range r.json {
		out = re.ReplaceAllFunc(out, func(m []byte) []byte {
			sub := re.FindSubmatchIndex(m)
			prefix := m[sub[2]:sub[3]]
			var val []byte
			quoted := sub[4] >= 0
			if quoted {
				val = m[sub[4]:sub[5]]
			} else {
				val = m[sub[8]:sub[9]]
			}
			red := r.c.Redact(val, r.mode)
			var b bytes.Buffer
			b.Write(prefix)
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(red, `"`, `\"`))
			b.WriteByte('"')
			return b.Bytes()
		})
	}
	return out
}

func (r *redactor) csv(raw []byte, h *csvHeader) []byte {
	if h == nil {
		return []byte(redactedLine)
	}
	cells, err := splitCSV(raw, nil)
	if err != nil || len(cells) != len(h.columns) {
		// A malformed record: fall back to a plain comma split.
		cells = bytes.Split(raw, []byte{','})
		if len(cells) != len(h.columns) {
			return []byte(redactedLine)
		}
	}
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = csvCell(string(c))
	}
	for _, fi := range r.pii {
		if col := h.fieldCol[fi]; col >= 0 && len(cells[col]) > 0 {
			out[col] = csvCell(r.c.Redact(cells[col], r.mode))
		}
	}
	return []byte(strings.Join(out, ","))
}

func csvCell(s string) string {
	if strings.ContainsAny(s, "\",\r\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}
