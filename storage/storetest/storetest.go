// Package storetest is the conformance suite that every storage.Store
// implementation runs. It lives in a non-test file so that each backend's test
// is a few lines:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storage.Store { return mem.New() })
//		storetest.RunPrefixed(t, func(t *testing.T) storage.Store { return mem.New() })
//	}
//
// Every subtest is independent and calls newStore for a fresh, empty store.
// newStore should register any cleanup with t.Cleanup; the suite closes the
// store itself.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/prefix"
)

// Run runs every conformance subtest against stores made by newStore. Each
// subtest gets its own fresh, empty store.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"PutGetRoundTrip", testPutGetRoundTrip},
		{"PutUnknownSize", testPutUnknownSize},
		{"PutSizeMismatch", testPutSizeMismatch},
		{"AtomicPut", testAtomicPut},
		{"CancelledPut", testCancelledPut},
		{"RangedRead", testRangedRead},
		{"ListSortedPrefix", testListSortedPrefix},
		{"ListMany", testListMany},
		{"Stat", testStat},
		{"DeleteIdempotent", testDeleteIdempotent},
		{"ConditionalCreate", testConditionalCreate},
		{"ConcurrentPutSameKey", testConcurrentPutSameKey},
		{"OddKeys", testOddKeys},
		{"InvalidKeys", testInvalidKeys},
		{"OpenMissing", testOpenMissing},
		{"StatMissing", testStatMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// PrefixForTests is the prefix RunPrefixed wraps stores in.
const PrefixForTests = "some/prefix"

// RunPrefixed runs the suite against stores made by newStore wrapped in
// prefix.New(store, PrefixForTests), as subtest "Prefixed". Before the
// wrapping it puts objects beside the prefix ("some/prefixx",
// "some/prefix-other/x", "outside") into the inner store; a wrapper that leaks
// them fails the List subtests.
func RunPrefixed(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Helper()
	t.Run("Prefixed", func(t *testing.T) {
		Run(t, func(t *testing.T) storage.Store {
			inner := newStore(t)
			for _, k := range []string{"some/prefixx", "some/prefix-other/x", "outside"} {
				mustPut(t, inner, k, []byte("not in the prefix"))
			}
			return prefix.New(inner, PrefixForTests)
		})
	})
}

// ---- helpers ----

func mustPut(t *testing.T, s storage.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func readAll(t *testing.T, s storage.Store, key string) []byte {
	t.Helper()
	o, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer o.Close()
	data, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if o.Size() != int64(len(data)) {
		t.Fatalf("Open(%q).Size() = %d, but %d bytes were read", key, o.Size(), len(data))
	}
	return data
}

func wantContent(t *testing.T, s storage.Store, key string, want []byte) {
	t.Helper()
	if got := readAll(t, s, key); !bytes.Equal(got, want) {
		t.Fatalf("content of %q: got %d bytes %.20q, want %d bytes %.20q", key, len(got), got, len(want), want)
	}
}

func wantNotFound(t *testing.T, s storage.Store, key string) {
	t.Helper()
	if o, err := s.Open(t.Context(), key); !errors.Is(err, storage.ErrNotFound) {
		if err == nil {
			o.Close()
		}
		t.Fatalf("Open(%q) error = %v, want ErrNotFound", key, err)
	}
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat(%q) error = %v, want ErrNotFound", key, err)
	}
}

func listKeys(t *testing.T, s storage.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := s.List(t.Context(), prefix, func(info storage.ObjectInfo) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

// content returns n deterministic pseudo-random bytes for seed.
func content(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 1})
	_, _ = r.Read(b)
	return b
}

// genReader streams n pseudo-random bytes and hashes what it hands out.
type genReader struct {
	rng  *rand.ChaCha8
	left int64
	hash io.Writer
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, _ := g.rng.Read(p)
	g.left -= int64(n)
	g.hash.Write(p[:n])
	return n, nil
}

// failingReader yields data and then fails with errBoom instead of io.EOF.
type failingReader struct{ r io.Reader }

var errBoom = errors.New("storetest: reader failed on purpose")

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errBoom
	}
	return n, err
}

// pausingReader yields head, then signals reached and blocks until release is
// closed, then yields tail.
type pausingReader struct {
	head, tail []byte
	reached    chan struct{}
	release    chan struct{}
	paused     bool
}

func (p *pausingReader) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	if !p.paused {
		p.paused = true
		close(p.reached)
		<-p.release
	}
	if len(p.tail) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.tail)
	p.tail = p.tail[n:]
	return n, nil
}

// ---- subtests ----

func testPutGetRoundTrip(t *testing.T, s storage.Store) {
	for _, n := range []int{0, 1, 100, 64 << 10} {
		key := fmt.Sprintf("roundtrip/%d.bin", n)
		data := content(uint64(n), n)
		mustPut(t, s, key, data)
		wantContent(t, s, key, data)
	}

	// A large object, streamed: bigger than any single buffer a backend uses
	// and past S3's multipart threshold, compared by SHA-256.
	const large = 70 << 20
	want := sha256.New()
	gen := &genReader{rng: rand.NewChaCha8([32]byte{42}), left: large, hash: want}
	if err := s.Put(t.Context(), "roundtrip/large.bin", gen, large); err != nil {
		t.Fatalf("Put large: %v", err)
	}
	o, err := s.Open(t.Context(), "roundtrip/large.bin")
	if err != nil {
		t.Fatalf("Open large: %v", err)
	}
	defer o.Close()
	if o.Size() != large {
		t.Fatalf("large Size() = %d, want %d", o.Size(), large)
	}
	got := sha256.New()
	n, err := io.CopyBuffer(got, o, make([]byte, 1<<20))
	if err != nil || n != large {
		t.Fatalf("read large: %d bytes, %v; want %d bytes", n, err, large)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("large object: SHA-256 differs")
	}
	if info, err := s.Stat(t.Context(), "roundtrip/large.bin"); err != nil || info.Size != large {
		t.Fatalf("Stat large = %+v, %v; want size %d", info, err, large)
	}
}

func testPutUnknownSize(t *testing.T, s storage.Store) {
	for _, n := range []int{0, 10, 3<<20 + 7} {
		key := fmt.Sprintf("unknown/%d", n)
		data := content(7, n)
		// io.MultiReader hides any Len/Seek method a backend could use.
		if err := s.Put(t.Context(), key, io.MultiReader(bytes.NewReader(data)), -1); err != nil {
			t.Fatalf("Put(%q, size -1): %v", key, err)
		}
		wantContent(t, s, key, data)
	}
}

func testPutSizeMismatch(t *testing.T, s storage.Store) {
	data := content(3, 1000)
	for _, size := range []int64{999, 1001} {
		key := fmt.Sprintf("mismatch/%d", size)
		if err := s.Put(t.Context(), key, io.MultiReader(bytes.NewReader(data)), size); err == nil {
			t.Fatalf("Put of %d bytes with size %d succeeded, want an error", len(data), size)
		}
		wantNotFound(t, s, key)
	}
}

func testAtomicPut(t *testing.T, s storage.Store) {
	old := content(1, 1000)
	mustPut(t, s, "atomic/existing", old)

	t.Run("ReaderFails", func(t *testing.T) {
		for _, key := range []string{"atomic/existing", "atomic/new"} {
			r := &failingReader{r: bytes.NewReader(content(2, 2<<20))}
			if err := s.Put(t.Context(), key, r, -1); err == nil {
				t.Fatalf("Put(%q) with a failing reader succeeded, want an error", key)
			}
		}
		wantContent(t, s, "atomic/existing", old)
		wantNotFound(t, s, "atomic/new")
		if keys := listKeys(t, s, "atomic/"); !slices.Equal(keys, []string{"atomic/existing"}) {
			t.Fatalf("List after failed Puts = %q", keys)
		}
	})

	t.Run("NoPartialReads", func(t *testing.T) {
		for _, key := range []string{"atomic/existing", "atomic/slow-new"} {
			before, hadOld := []byte(nil), false
			if o, err := s.Open(t.Context(), key); err == nil {
				o.Close()
				before, hadOld = readAll(t, s, key), true
			}
			newData := content(5, 2<<20)
			r := &pausingReader{
				head: newData[:1<<20], tail: newData[1<<20:],
				reached: make(chan struct{}), release: make(chan struct{}),
			}
			done := make(chan error, 1)
			go func() { done <- s.Put(t.Context(), key, r, int64(len(newData))) }()
			select {
			case <-r.reached:
			case err := <-done:
				t.Fatalf("Put returned before reading all of its reader: %v", err)
			}
			// Half the object has been handed to Put, which is now blocked.
			if hadOld {
				wantContent(t, s, key, before)
				if info, err := s.Stat(t.Context(), key); err != nil || info.Size != int64(len(before)) {
					t.Errorf("Stat during Put = %+v, %v; want the old size %d", info, err, len(before))
				}
			} else {
				wantNotFound(t, s, key)
			}
			_ = s.List(t.Context(), "atomic/", func(info storage.ObjectInfo) error {
				if info.Key == key && (!hadOld || info.Size != int64(len(before))) {
					t.Errorf("List during Put shows %+v", info)
				}
				return nil
			})
			close(r.release)
			if err := <-done; err != nil {
				t.Fatalf("slow Put(%q): %v", key, err)
			}
			wantContent(t, s, key, newData)
		}
	})
}

func testCancelledPut(t *testing.T, s storage.Store) {
	mustPut(t, s, "cancel/existing", []byte("old"))
	for _, key := range []string{"cancel/new", "cancel/existing"} {
		before, _ := s.Stat(t.Context(), key)
		ctx, cancel := context.WithCancel(t.Context())
		// The reader cancels ctx after 1 MiB and then keeps yielding data: the
		// store must notice the cancellation by itself.
		data := content(9, 4<<20)
		r := io.MultiReader(
			bytes.NewReader(data[:1<<20]),
			readerFunc(func(p []byte) (int, error) { cancel(); return 0, io.EOF }),
			bytes.NewReader(data[1<<20:]),
		)
		err := s.Put(ctx, key, r, int64(len(data)))
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Put(%q) with ctx cancelled mid-way = %v, want an error wrapping context.Canceled", key, err)
		}
		if before.Key == "" {
			wantNotFound(t, s, key)
		} else {
			wantContent(t, s, key, []byte("old"))
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Put(ctx, "cancel/before", bytes.NewReader([]byte("x")), 1); err == nil {
		t.Fatalf("Put with a cancelled ctx succeeded")
	}
	wantNotFound(t, s, "cancel/before")
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func testRangedRead(t *testing.T, s storage.Store) {
	data := content(11, 100_003)
	mustPut(t, s, "ranged/obj.parquet", data)
	o, err := s.Open(t.Context(), "ranged/obj.parquet")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer o.Close()
	size := int64(len(data))
	if o.Size() != size {
		t.Fatalf("Size() = %d, want %d", o.Size(), size)
	}

	full := []struct {
		name string
		off  int64
		n    int
	}{{"start", 0, 16}, {"middle", size / 2, 4096}, {"footer", size - 8, 8}, {"whole", 0, len(data)}}
	for _, c := range full {
		buf := make([]byte, c.n)
		n, err := o.ReadAt(buf, c.off)
		if n != c.n || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt %s (off %d, len %d) = %d, %v", c.name, c.off, c.n, n, err)
		}
		if !bytes.Equal(buf, data[c.off:c.off+int64(c.n)]) {
			t.Fatalf("ReadAt %s: wrong bytes", c.name)
		}
	}

	// Reading across the end returns what there is and io.EOF.
	buf := make([]byte, 16)
	n, err := o.ReadAt(buf, size-8)
	if n != 8 || err != io.EOF || !bytes.Equal(buf[:8], data[size-8:]) {
		t.Fatalf("ReadAt across EOF = %d, %v; want 8, io.EOF", n, err)
	}
	for _, off := range []int64{size, size + 100} {
		if n, err := o.ReadAt(buf, off); n != 0 || err != io.EOF {
			t.Fatalf("ReadAt(off %d) past EOF = %d, %v; want 0, io.EOF", off, n, err)
		}
	}

	// ReadAt may be called in parallel (io.ReaderAt), and does not disturb Read.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			off := int64(i) * 10_000
			b := make([]byte, 5000)
			if n, err := o.ReadAt(b, off); n != len(b) || (err != nil && err != io.EOF) || !bytes.Equal(b, data[off:off+5000]) {
				t.Errorf("parallel ReadAt(off %d) = %d, %v or wrong bytes", off, n, err)
			}
		})
	}
	wg.Wait()
	seq, err := io.ReadAll(o)
	if err != nil || !bytes.Equal(seq, data) {
		t.Fatalf("sequential Read after ReadAt: %d bytes, %v; want the whole object", len(seq), err)
	}

	mustPut(t, s, "ranged/empty", nil)
	e, err := s.Open(t.Context(), "ranged/empty")
	if err != nil {
		t.Fatalf("Open empty: %v", err)
	}
	defer e.Close()
	if n, err := e.ReadAt(buf, 0); e.Size() != 0 || n != 0 || err != io.EOF {
		t.Fatalf("empty object: Size %d, ReadAt = %d, %v; want 0, 0, io.EOF", e.Size(), n, err)
	}
}

func testListSortedPrefix(t *testing.T, s storage.Store) {
	keys := []string{
		"dt=2026-01-01/b.parquet",
		"dt=2026-01-01/a.parquet",
		"dt=2026-01-02/a.parquet",
		"dt=2026-01-10/a.parquet",
		"dt=2026-02-01/a.parquet",
		"dt=2026-01-01/_manifest.json",
		"a/b", "a b", "a-b", "a.b", "ab", "a/c/d", "a/c d", "a/c/e/f",
		"z",
	}
	for i, k := range keys {
		mustPut(t, s, k, content(uint64(i), i+1))
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted) // byte order

	filter := func(p string) []string {
		var out []string
		for _, k := range sorted {
			if strings.HasPrefix(k, p) {
				out = append(out, k)
			}
		}
		return out
	}
	for _, p := range []string{"", "dt=2026-01-0", "dt=2026-01-01/", "dt=2026-01-01/a.parquet", "dt=2026-01-01/a", "dt=", "a", "a/", "a/c", "a/c/", "zz", "missing/dir/"} {
		got := listKeys(t, s, p)
		if want := filter(p); !slices.Equal(got, want) {
			t.Errorf("List(%q):\n got %q\nwant %q", p, got, want)
		}
	}

	// ObjectInfo carries the size and a modification time.
	err := s.List(t.Context(), "", func(info storage.ObjectInfo) error {
		i := slices.Index(keys, info.Key)
		if i < 0 || info.Size != int64(i+1) || info.ModTime.IsZero() {
			t.Errorf("List info %+v: want size %d and a ModTime", info, i+1)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}

	// An error from fn stops the listing and is returned.
	stop := errors.New("stop")
	calls := 0
	err = s.List(t.Context(), "", func(storage.ObjectInfo) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("List with failing fn = %v after %d calls, want the fn error after 1 call", err, calls)
	}
}

func testListMany(t *testing.T, s storage.Store) {
	const n = 1100
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("many/p%02d/obj-%05d", i%7, i))
	}
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for k := range work {
				if err := s.Put(t.Context(), k, strings.NewReader(k), int64(len(k))); err != nil {
					t.Errorf("Put(%q): %v", k, err)
				}
			}
		})
	}
	for _, k := range want {
		work <- k
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	slices.Sort(want)
	for _, p := range []string{"", "many/"} {
		if got := listKeys(t, s, p); !slices.Equal(got, want) {
			t.Fatalf("List(%q) returned %d keys (sorted: %v), want %d sorted keys",
				p, len(got), slices.IsSorted(got), len(want))
		}
	}
	if got := listKeys(t, s, "many/p03/"); len(got) != 157 || !slices.IsSorted(got) {
		t.Fatalf("List(many/p03/) returned %d keys, want 157 sorted", len(got))
	}
}

func testStat(t *testing.T, s storage.Store) {
	data := content(4, 12345)
	mustPut(t, s, "stat/obj", data)
	info, err := s.Stat(t.Context(), "stat/obj")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Key != "stat/obj" || info.Size != int64(len(data)) || info.ModTime.IsZero() {
		t.Fatalf("Stat = %+v, want key stat/obj, size %d and a ModTime", info, len(data))
	}
	mustPut(t, s, "stat/obj", data[:10])
	if info, err := s.Stat(t.Context(), "stat/obj"); err != nil || info.Size != 10 {
		t.Fatalf("Stat after overwrite = %+v, %v; want size 10", info, err)
	}
	if _, err := s.Stat(t.Context(), "stat/missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat missing = %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(t.Context(), "stat"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat of a key that is only a prefix of objects = %v, want ErrNotFound", err)
	}
	if u := s.URL("stat/obj"); !strings.HasSuffix(u, "stat/obj") || !strings.Contains(u, "://") {
		t.Fatalf("URL(stat/obj) = %q, want a URL ending in the key", u)
	}
}

func testDeleteIdempotent(t *testing.T, s storage.Store) {
	mustPut(t, s, "del/a/b/c", []byte("c"))
	mustPut(t, s, "del/a/b2", []byte("b2"))
	for i := range 2 {
		if err := s.Delete(t.Context(), "del/a/b/c"); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	wantNotFound(t, s, "del/a/b/c")
	if err := s.Delete(t.Context(), "del/never/existed"); err != nil {
		t.Fatalf("Delete of a never-existing key: %v", err)
	}
	if keys := listKeys(t, s, "del/"); !slices.Equal(keys, []string{"del/a/b2"}) {
		t.Fatalf("List after Delete = %q, want [del/a/b2]", keys)
	}
	wantContent(t, s, "del/a/b2", []byte("b2"))
	mustPut(t, s, "del/a/b/c", []byte("again"))
	wantContent(t, s, "del/a/b/c", []byte("again"))
}

func testConditionalCreate(t *testing.T, s storage.Store) {
	cp, ok := s.(storage.ConditionalPutter)
	if !ok {
		t.Skipf("%T does not implement storage.ConditionalPutter", s)
	}
	ctx := t.Context()
	if err := cp.PutIfAbsent(ctx, "cond/lock", strings.NewReader("first"), 5); err != nil {
		t.Fatalf("first PutIfAbsent: %v", err)
	}
	if err := cp.PutIfAbsent(ctx, "cond/lock", strings.NewReader("second!"), 7); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second PutIfAbsent = %v, want ErrExists", err)
	}
	wantContent(t, s, "cond/lock", []byte("first"))
	if err := cp.PutIfAbsent(ctx, "cond/fail", &failingReader{r: strings.NewReader("x")}, -1); err == nil {
		t.Fatalf("PutIfAbsent with a failing reader succeeded")
	}
	wantNotFound(t, s, "cond/fail")

	const racers = 8
	var wins, exists atomic.Int32
	winner := make(chan string, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			body := fmt.Sprintf("racer %d", i)
			err := cp.PutIfAbsent(ctx, "cond/race", strings.NewReader(body), int64(len(body)))
			switch {
			case err == nil:
				wins.Add(1)
				winner <- body
			case errors.Is(err, storage.ErrExists):
				exists.Add(1)
			default:
				t.Errorf("racing PutIfAbsent: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || exists.Load() != racers-1 {
		t.Fatalf("racing PutIfAbsent: %d winners and %d ErrExists, want 1 and %d", wins.Load(), exists.Load(), racers-1)
	}
	wantContent(t, s, "cond/race", []byte(<-winner))

	if err := cp.PutIfAbsent(ctx, "a//b", strings.NewReader("x"), 1); !errors.Is(err, storage.ErrInvalidKey) {
		t.Fatalf("PutIfAbsent(a//b) = %v, want ErrInvalidKey", err)
	}
}

func testConcurrentPutSameKey(t *testing.T, s storage.Store) {
	const writers = 8
	bodies := make([][]byte, writers)
	for i := range bodies {
		bodies[i] = content(uint64(100+i), 256<<10+i*1000)
	}
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if err := s.Put(t.Context(), "same/key", bytes.NewReader(bodies[i]), int64(len(bodies[i]))); err != nil {
				t.Errorf("Put #%d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got := readAll(t, s, "same/key")
	if !slices.ContainsFunc(bodies, func(b []byte) bool { return bytes.Equal(b, got) }) {
		t.Fatalf("after concurrent Puts the object (%d bytes) equals none of the writes", len(got))
	}
	if info, err := s.Stat(t.Context(), "same/key"); err != nil || info.Size != int64(len(got)) {
		t.Fatalf("Stat = %+v, %v; want size %d", info, err, len(got))
	}
}

func testOddKeys(t *testing.T, s storage.Store) {
	keys := []string{
		"día/ü ñ.parquet",
		"dt=2026-01-01/x",
		"with space/and more spaces .txt",
		"emoji/🦆.json",
		"quote'and\"double/x#y?z%20&+,;@",
		"..dots/x..",
		".hidden",
	}
	for i, k := range keys {
		data := []byte(fmt.Sprintf("odd %d", i))
		mustPut(t, s, k, data)
		wantContent(t, s, k, data)
		if info, err := s.Stat(t.Context(), k); err != nil || info.Key != k {
			t.Fatalf("Stat(%q) = %+v, %v", k, info, err)
		}
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	if got := listKeys(t, s, ""); !slices.Equal(got, sorted) {
		t.Fatalf("List:\n got %q\nwant %q", got, sorted)
	}
	if got := listKeys(t, s, "día/"); !slices.Equal(got, []string{"día/ü ñ.parquet"}) {
		t.Fatalf("List(día/) = %q", got)
	}
	for _, k := range keys {
		if err := s.Delete(t.Context(), k); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
	}
	if got := listKeys(t, s, ""); len(got) != 0 {
		t.Fatalf("List after deleting all = %q", got)
	}
}

func testInvalidKeys(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustPut(t, s, "a/b", []byte("x"))
	for _, k := range []string{"", "/abs", "a/../b", "../escape", "a//b", "a/./b", "x\x00y", `a\b`, "trailing/", "\xff"} {
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want ErrInvalidKey", op, k, err)
			}
		}
		check("Put", s.Put(ctx, k, strings.NewReader("x"), 1))
		o, err := s.Open(ctx, k)
		if err == nil {
			o.Close()
		}
		check("Open", err)
		_, err = s.Stat(ctx, k)
		check("Stat", err)
		check("Delete", s.Delete(ctx, k))
	}
	for _, p := range []string{"/abs", "a//", "../", "a/../"} {
		err := s.List(ctx, p, func(storage.ObjectInfo) error { return nil })
		if !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want ErrInvalidKey", p, err)
		}
	}
	wantContent(t, s, "a/b", []byte("x"))
}

func testOpenMissing(t *testing.T, s storage.Store) {
	mustPut(t, s, "dir/present", []byte("x"))
	for _, k := range []string{"missing", "dir/missing", "dir", "dir/present/below"} {
		o, err := s.Open(t.Context(), k)
		if err == nil {
			o.Close()
		}
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", k, err)
		}
	}
}

func testStatMissing(t *testing.T, s storage.Store) {
	mustPut(t, s, "dir/present", []byte("x"))
	for _, k := range []string{"missing", "dir/missing", "dir", "dir/present/below"} {
		if _, err := s.Stat(t.Context(), k); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", k, err)
		}
	}
}
