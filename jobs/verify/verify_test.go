package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/txlake/txlake/storage"
	"github.com/txlake/txlake/storage/lake"
	"github.com/txlake/txlake/storage/mem"
)

const table = "t"

// partition stores a one-file partition of n rows on a fresh mem store
// and returns the store and its manifest.
func partition(t *testing.T, n int) (*mem.Store, *lake.Manifest) {
	t.Helper()
	type row struct{ ID int64 }
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf)
	rows := make([]row, n)
	for i := range rows {
		rows[i].ID = int64(i)
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := mem.New()
	ctx := t.Context()
	if err := st.Put(ctx, lake.SchemaKey(table), bytes.NewReader([]byte("{}")), 2); err != nil {
		t.Fatal(err)
	}
	f := lake.File{Name: "part-1-0.parquet", Bytes: int64(buf.Len()), Rows: int64(n), SHA256: sha(buf.Bytes()), Contribution: "c"}
	if err := st.Put(ctx, lake.PartitionDir(table, "2026-01-01")+f.Name, bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		t.Fatal(err)
	}
	m := &lake.Manifest{Table: table, Date: "2026-01-01", Generation: 1, Files: []lake.File{f}}
	if err := lake.WriteManifest(ctx, st, m); err != nil {
		t.Fatal(err)
	}
	return st, m
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestVerifyFindsEachProblem breaks one thing at a time and checks that
// verify reports exactly that kind.
func TestVerifyFindsEachProblem(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind    string
		breakIt func(ctx context.Context, t *testing.T, st *mem.Store, m *lake.Manifest)
	}{
		{"intact", "", func(context.Context, *testing.T, *mem.Store, *lake.Manifest) {}},
		{"missing file", KindMissing, func(ctx context.Context, t *testing.T, st *mem.Store, m *lake.Manifest) {
			if err := st.Delete(ctx, m.Key(m.Files[0])); err != nil {
				t.Fatal(err)
			}
		}},
		{"wrong size", KindSize, func(ctx context.Context, t *testing.T, st *mem.Store, m *lake.Manifest) {
			rewrite(ctx, t, st, m, func(mm *lake.Manifest) { mm.Files[0].Bytes++ })
		}},
		{"wrong row count", KindRows, func(ctx context.Context, t *testing.T, st *mem.Store, m *lake.Manifest) {
			rewrite(ctx, t, st, m, func(mm *lake.Manifest) { mm.Files[0].Rows++ })
		}},
		{"bad manifest", KindBadManifest, func(ctx context.Context, t *testing.T, st *mem.Store, m *lake.Manifest) {
			if err := st.Put(ctx, lake.ManifestKey(table, m.Date), bytes.NewReader([]byte("{")), 1); err != nil {
				t.Fatal(err)
			}
		}},
		{"archived behind the manifest's back", KindUnrecordedClass, func(ctx context.Context, t *testing.T, st *mem.Store, m *lake.Manifest) {
			if err := st.SetStorageClass(ctx, m.Key(m.Files[0]), "DEEP_ARCHIVE"); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, m := partition(t, 100)
			tc.breakIt(t.Context(), t, st, m)
			res, err := Run(t.Context(), Options{Store: st, OrphanGrace: -1, Now: time.Now})
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, p := range res.Partitions {
				for _, pr := range p.Problems {
					kinds = append(kinds, pr.Kind)
				}
			}
			if tc.kind == "" {
				if !res.OK || len(kinds) != 0 || res.Files != 1 {
					t.Errorf("intact lake: ok %v, problems %v, %d files", res.OK, kinds, res.Files)
				}
				return
			}
			if res.OK || !slices.Contains(kinds, tc.kind) {
				b, _ := json.Marshal(res)
				t.Errorf("problems %v, want %s among them\n%s", kinds, tc.kind, b)
			}
		})
	}
}

// rewrite stores a changed copy of m, keeping its generation.
func rewrite(ctx context.Context, t *testing.T, st storage.Store, m *lake.Manifest, change func(*lake.Manifest)) {
	t.Helper()
	c := *m
	c.Files = append([]lake.File(nil), m.Files...)
	change(&c)
	data, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, lake.ManifestKey(table, m.Date), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
}
