package query

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duckdb/duckdb-go/v2"
)

// Formats of query output.
const (
	FormatTable = "table"
	FormatCSV   = "csv"
	FormatJSON  = "json" // JSON lines: one object per row
)

// Run executes sqlText and writes its rows to w in format. Table output
// buffers at most maxRows rows (and says how many more there were); csv and
// json stream every row. It returns the number of rows.
func Run(ctx context.Context, db *sql.DB, sqlText string, w io.Writer, format string, maxRows int) (int64, error) {
	rows, err := db.QueryContext(ctx, sqlText)
	if err != nil {
		return 0, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		return 0, err
	}
	isDate := make([]bool, len(cols))
	for i, t := range types {
		isDate[i] = t.DatabaseTypeName() == "DATE"
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	scan := func() error {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, v := range vals {
			if t, ok := v.(time.Time); ok && isDate[i] {
				vals[i] = dateValue(t.Format("2006-01-02"))
			}
		}
		return nil
	}
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	switch format {
	case FormatCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(cols); err != nil {
			return 0, err
		}
		rec := make([]string, len(cols))
		for rows.Next() {
			if err := scan(); err != nil {
				return n, err
			}
			for i, v := range vals {
				rec[i] = text(v, "")
			}
			if err := cw.Write(rec); err != nil {
				return n, err
			}
			n++
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, err
		}
	case FormatJSON:
		enc := json.NewEncoder(w)
		for rows.Next() {
			if err := scan(); err != nil {
				return n, err
			}
			obj := make(orderedObject, len(cols))
			for i, v := range vals {
				obj[i] = kv{cols[i], jsonValue(v)}
			}
			if err := enc.Encode(obj); err != nil {
				return n, err
			}
			n++
		}
	default:
		var table [][]string
		more := int64(0)
		for rows.Next() {
			if len(table) >= maxRows {
				more++
				continue
			}
			if err := scan(); err != nil {
				return n, err
			}
			rec := make([]string, len(cols))
			for i, v := range vals {
				rec[i] = text(v, "NULL")
			}
			table = append(table, rec)
			n++
		}
		if err := rows.Err(); err != nil {
			return n, fmt.Errorf("query: %w", err)
		}
		if err := writeTable(w, cols, table); err != nil {
			return n, err
		}
		if more > 0 {
			fmt.Fprintf(w, "(%d more rows not shown; use --max-rows or --format csv|json)\n", more)
		} else {
			fmt.Fprintf(w, "(%d rows)\n", n)
		}
		return n + more, nil
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("query: %w", err)
	}
	return n, nil
}

func writeTable(w io.Writer, cols []string, rows [][]string) error {
	width := make([]int, len(cols))
	right := make([]bool, len(cols))
	for i, c := range cols {
		width[i] = utf8.RuneCountInString(c)
		right[i] = true
	}
	for _, r := range rows {
		for i, c := range r {
			if l := utf8.RuneCountInString(c); l > width[i] {
				width[i] = l
			}
			if c != "NULL" && !isNumeric(c) {
				right[i] = false
			}
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if right[i] {
				b.WriteString(pad + c)
			} else if i == len(cells)-1 {
				b.WriteString(c)
			} else {
				b.WriteString(c + pad)
			}
		}
		b.WriteString("\n")
	}
	line(cols)
	sep := make([]string, len(cols))
	for i := range cols {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	_, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	return err == nil
}

// text renders one value for table and CSV output.
func text(v any, null string) string {
	switch x := v.(type) {
	case nil:
		return null
	case string:
		return x
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return fmt.Sprintf("%x", x)
	case dateValue:
		return string(x)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.999999Z07:00")
	case duckdb.Decimal:
		return decimalString(x)
	case *big.Int:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32, int16, int8, int, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x)
	case []any, map[string]any, duckdb.Map:
		b, err := json.Marshal(jsonValue(v))
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
	return fmt.Sprint(v)
}

// decimalString renders a decimal exactly, with its scale.
func decimalString(d duckdb.Decimal) string {
	if d.Value == nil {
		return "NULL"
	}
	s := new(big.Int).Abs(d.Value).String()
	scale := int(d.Scale)
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if d.Value.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// dateValue is a DATE rendered as YYYY-MM-DD.
type dateValue string

func jsonValue(v any) any {
	switch x := v.(type) {
	case dateValue:
		return string(x)
	case duckdb.Decimal:
		return json.Number(decimalString(x))
	case *big.Int:
		return json.Number(x.String())
	case time.Time:
		return text(x, "")
	case []byte:
		return text(x, "")
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case duckdb.Map:
		out := map[string]any{}
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonValue(e)
		}
		return out
	}
	return v
}

type kv struct {
	k string
	v any
}

// orderedObject marshals as a JSON object keeping column order.
type orderedObject []kv

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}
