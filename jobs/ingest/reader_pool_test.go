package ingest

import (
	"bytes"
	"runtime"
	"testing"
)

// A released chunk's buffer is the next chunk's: the reader allocates a
// buffer only when none is free.
func TestChunkRelease(t *testing.T) {
	data := bytes.Repeat([]byte(`{"a":"line"}`+"\n"), 1<<16)
	lr := newLineReader(bytes.NewReader(data), 64<<10, 16<<10)
	first, err := lr.next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(first.data)
	first.release()
	if first.data != nil || first.buf != nil {
		t.Fatal("release left the chunk pointing at its buffer")
	}
	var got []byte
	for {
		c, err := lr.next(t.Context())
		if err != nil {
			break
		}
		got = append(got, c.data...)
		c.release()
	}
	if !bytes.Equal(append(want, got...), data) {
		t.Fatalf("recycled chunks gave %d bytes, want %d", len(want)+len(got), len(data))
	}
	// Bytes allocated by passes of 4 chunks of 64 KiB: the line reader, its
	// carry and the chunks' structs, not a buffer a chunk (a GC may empty
	// the pool now and then, hence the average).
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const passes = 20
	for range passes {
		lr := newLineReader(bytes.NewReader(data[:200<<10]), 64<<10, 16<<10)
		for {
			c, err := lr.next(t.Context())
			if err != nil {
				break
			}
			c.release()
		}
	}
	runtime.ReadMemStats(&after)
	// Under the race detector sync.Pool drops a quarter of what is put
	// back, on purpose: about one buffer a pass is then fresh. Without
	// recycling a pass allocates four.
	limit := uint64(64 << 10)
	if raceEnabled {
		limit = 160 << 10
	}
	if perPass := (after.TotalAlloc - before.TotalAlloc) / passes; perPass > limit {
		t.Errorf("%d bytes allocated a pass of 4 chunks of 64 KiB", perPass)
	}
}
