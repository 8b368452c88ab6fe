package ingest

import (
	"sync"

	czstd "github.com/DataDog/zstd"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// dataCodec compresses the data and quarantine pages: libzstd (through cgo)
// at level 1, and klauspost's pure-Go decoder for reading them back. On
// pages of this size level 1 compresses 25 % faster than level 2 into 2 %
// more bytes, still fewer than level 3, DuckDB's default (docs/performance.md
// "zstd encoders").
var dataCodec = &cPageCodec{level: 1}

// pageCodec is the pure-Go zstd codec (klauspost/compress). parquet-go's own
// zstd codec uses the library's default 8 MiB window, so every pooled
// encoder holds several MiB of history; a page is at most a few hundred KiB,
// so a 1 MiB window compresses it identically and keeps ingest memory
// bounded. One codec is shared by all writers, so they share its pool.
type pageCodec struct {
	level zstd.EncoderLevel
	enc   sync.Pool
	dec   sync.Pool
}

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

// cPageCodec encodes pages with libzstd (vendored C sources, built by cgo)
// at a numeric level. Its compression contexts are pooled; one adapts its
// parameters to each page's size, so a context stays small. Decoding is
// pageCodec's.
type cPageCodec struct {
	level int
	ctx   sync.Pool
	pageCodec
}

func (c *cPageCodec) Encode(dst, src []byte) ([]byte, error) {
	x, _ := c.ctx.Get().(czstd.Ctx)
	if x == nil {
		x = czstd.NewCtx()
	}
	// CompressLevel writes into dst only if it has room for the worst case.
	out, err := x.CompressLevel(dst[:cap(dst)], src, c.level)
	c.ctx.Put(x)
	return out, err
}
