package ingest

import (
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// pageCodec is the zstd codec of data and quarantine pages. parquet-go's own
// zstd codec uses the library's default 8 MiB window, so every pooled
// encoder holds several MiB of history; a page is at most a few hundred KiB,
// so a 1 MiB window compresses it identically and keeps ingest memory
// bounded. One codec is shared by all writers, so they share its pool.
type pageCodec struct {
	level zstd.EncoderLevel
	enc   sync.Pool
	dec   sync.Pool
}

var dataCodec = &pageCodec{level: zstd.SpeedDefault}

func (c *pageCodec) String() string { return "ZSTD" }

func (c *pageCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *pageCodec) Encode(dst, src []byte) ([]byte, error) {
	e, _ := c.enc.Get().(*zstd.Encoder)
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(c.level), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20), zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return nil, err
		}
	}
	out := e.EncodeAll(src, dst[:0])
	c.enc.Put(e)
	return out, nil
}

func (c *pageCodec) Decode(dst, src []byte) ([]byte, error) {
	d, _ := c.dec.Get().(*zstd.Decoder)
	if d == nil {
		var err error
		d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
	}
	out, err := d.DecodeAll(src, dst[:0])
	c.dec.Put(d)
	return out, err
}
