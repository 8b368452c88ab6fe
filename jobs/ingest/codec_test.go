package ingest

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// The libzstd encoder writes standard zstd frames: the pure-Go decoder (and
// the codec's own Decode) read them back, into fresh or reused buffers.
func TestPageCodecRoundTrip(t *testing.T) {
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	page := bytes.Repeat([]byte(`{"transaction_id":"tx_0123456789abcdef","amount":"12.50"}`), 4000)
	var enc, back []byte
	for _, src := range [][]byte{page, page[:1], {}, page[:777]} {
		if enc, err = dataCodec.Encode(enc, src); err != nil {
			t.Fatal(err)
		}
		if len(src) == len(page) && len(enc) > len(src)/20 {
			t.Errorf("a repetitive page of %d bytes compressed to %d", len(src), len(enc))
		}
		plain, err := dec.DecodeAll(enc, nil)
		if err != nil || !bytes.Equal(plain, src) {
			t.Fatalf("klauspost decode of %d bytes: %v, equal=%v", len(src), err, bytes.Equal(plain, src))
		}
		if back, err = dataCodec.Decode(back, enc); err != nil || !bytes.Equal(back, src) {
			t.Fatalf("codec decode of %d bytes: %v", len(src), err)
		}
	}
}
