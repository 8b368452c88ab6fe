package ingest

import (
	"strings"
	"testing"

	"github.com/txlake/txlake/schemas"
)

func TestRedactQuarantineLines(t *testing.T) {
	s := loadSchema(t)
	c, err := s.NewCoercer(schemas.CoerceOptions{PIIKey: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	secret := []string{"anna.smith42@example.com", "4111111111111111", "4111 1111"}
	for _, tt := range []struct {
		name, mode, line string
		format           Format
		want             []string // substrings that must remain
	}{
		{"json", "mask", `{"transaction_id":"tx_1","email":"anna.smith42@example.com","card_number":"4111111111111111","amount":"x"}`, FormatJSONL,
			[]string{`"email":"***@example.com"`, `"card_number":"************1111"`, `"transaction_id":"tx_1"`}},
		{"json truncated", "mask", `{"transaction_id":"tx_1","email" : "anna.smith42@example.com","card_number":"4111 1111`, FormatJSONL,
			[]string{`"email" : "***@example.com"`, `"transaction_id":"tx_1"`}},
		{"json number card", "mask", `{"card_number":4111111111111111,"email":"anna.smith42@example.com"}`, FormatJSONL,
			[]string{`"card_number":"************1111"`}},
		{"json invalid utf8", "mask", "{\"email\":\"anna.smith42\xff@example.com\",\"x\":1}", FormatJSONL, []string{`"x":1`}},
		{"json hash", "hash", `{"email":"anna.smith42@example.com"}`, FormatJSONL, []string{`"email":"`}},
		{"csv", "mask", `tx_1,c_1,12.00,EUR,DE,m_1,fuel,web,captured,anna.smith42@example.com,4111111111111111,2026-01-01T00:00:00Z`, FormatCSV,
			[]string{"tx_1,c_1", ",***@example.com,************1111,"}},
		{"csv malformed", "mask", `tx_1,c_1,"12.00,anna.smith42@example.com`, FormatCSV, []string{"redacted"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRedactor(s, c, tt.mode)
			var h *csvHeader
			if tt.format == FormatCSV {
				h, err = parseCSVHeader([]byte("transaction_id,customer_id,amount,currency,country,merchant_id,merchant_category,channel,status,email,card_number,created_at"), s)
				if err != nil {
					t.Fatal(err)
				}
			}
			got := string(r.line([]byte(tt.line), tt.format, h))
			for _, sec := range secret {
				if strings.Contains(got, sec) {
					t.Fatalf("redacted line still holds %q: %s", sec, got)
				}
			}
			if strings.Contains(got, "anna.smith42") {
				t.Fatalf("redacted line still holds the local part: %s", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Fatalf("redacted line %s lacks %q", got, w)
				}
			}
		})
	}
	if newRedactor(s, c, "") != nil {
		t.Fatal("no redactor without a mode")
	}
}
