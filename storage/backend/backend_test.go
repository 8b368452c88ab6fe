package backend

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/txlake/txlake/storage"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		url       string
		wantLocal string // LocalPath("k") of the resulting store, if local
		wantURL   string // URL("k"), if not local
		wantErr   string // substring of a *URLError message
	}{
		{url: dir, wantLocal: filepath.Join(dir, "k")},
		{url: "file://" + dir, wantLocal: filepath.Join(dir, "k")},
		{url: "file:" + dir, wantLocal: filepath.Join(dir, "k")},
		{url: dir + "/sub dir/?#x", wantLocal: filepath.Join(dir, "sub dir/?#x", "k")},
		{url: "mem://", wantURL: "mem://k"},
		{url: "mem://a/b/", wantURL: "mem://a/b/k"},
		{url: "", wantErr: `lake URL "": empty`},
		{url: "ftp://x", wantErr: `lake URL "ftp://x": unsupported scheme "ftp" (want a path, file://, s3:// or hdfs://)`},
		{url: "s3://bucket/prefix", wantErr: `scheme "s3" is recognised but not built into this version`},
		{url: "hdfs://nn:8020/lake", wantErr: `scheme "hdfs" is recognised but not built`},
		{url: "S3://bucket", wantErr: `scheme "s3" is recognised`},
		{url: "file://host/x", wantErr: `empty host`},
		{url: "file://localhost/x", wantErr: `empty host`},
		{url: "file:relative", wantErr: `absolute path`},
		{url: "file:///x?y=1", wantErr: "query"},
		{url: "file:///x#frag", wantErr: "fragment"},
		{url: "file://user:hunter2@/x", wantErr: "credentials"},
		{url: "s3://AKIAKEY:hunter2@bucket/p", wantErr: `lake URL "s3://REDACTED@bucket/p"`},
		{url: "ftp://user:hunter2@host/%zz", wantErr: "malformed"},
		{url: "user:hunter2@host/x", wantErr: `unsupported scheme "user"`},
		{url: "mem://a//b", wantErr: "bad prefix"},
		{url: "x\x00y", wantErr: "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			s, err := Open(t.Context(), tt.url)
			if tt.wantErr != "" {
				var ue *URLError
				if !errors.As(err, &ue) || !ue.ConfigError() {
					t.Fatalf("Open(%q) = %v, want a *URLError", tt.url, err)
				}
				if msg := err.Error(); !strings.Contains(msg, tt.wantErr) || strings.Contains(msg, "hunter2") {
					t.Fatalf("Open(%q) error %q: want it to contain %q and no password", tt.url, msg, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.url, err)
			}
			defer s.Close()
			lp, isLocal := s.(storage.LocalPather)
			switch {
			case tt.wantLocal != "" && (!isLocal || lp.LocalPath("k") != tt.wantLocal):
				t.Fatalf("Open(%q) = %T, want a local store at %s", tt.url, s, tt.wantLocal)
			case tt.wantURL != "" && (isLocal || s.URL("k") != tt.wantURL):
				t.Fatalf("Open(%q).URL(k) = %q, want %q", tt.url, s.URL("k"), tt.wantURL)
			}
		})
	}
}

func TestOpenRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := Open(t.Context(), "lake")
	if err != nil {
		t.Fatal(err)
	}
	if p := s.(storage.LocalPather).LocalPath("k"); !filepath.IsAbs(p) || !strings.HasSuffix(p, filepath.FromSlash("lake/k")) {
		t.Fatalf("LocalPath = %q, want an absolute path ending in lake/k", p)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"s3://k:secret@b/p":      "s3://REDACTED@b/p",
		"hdfs://u@nn:8020/x?y#z": "hdfs://REDACTED@nn:8020/x?y#z",
		"s3://b/p@q":             "s3://b/p@q",
		"./dir@x":                "./dir@x",
		"user:secret@host":       "user:REDACTED@host",
		"://secret@x":            "://REDACTED@x",
		"s3://a@b@c/d":           "s3://REDACTED@c/d",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzOpenURL fuzzes the URL parser that Open uses (Open itself would create
// directories for bare paths): no panics, errors are *URLError, and a password
// never shows up in a message.
func FuzzOpenURL(f *testing.F) {
	for _, s := range []string{"", "./lake", "/abs", "file:///x", "file://h/x", "mem://", "mem://a/b", "s3://k:pw@b/p", "hdfs://nn:1/x", "ftp://x", "s3://%zz", "a:b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		loc, err := parse(raw)
		if err != nil {
			var ue *URLError
			if !errors.As(err, &ue) {
				t.Fatalf("parse(%q) = %v, not a *URLError", raw, err)
			}
			if i, j := strings.Index(raw, "://"), strings.Index(raw, "@"); i >= 0 && j > i {
				if pw := raw[i+3 : j]; len(pw) >= 8 && !strings.ContainsAny(pw, "/?#") && strings.Contains(ue.Error(), pw) {
					t.Fatalf("error %q shows userinfo %q", ue.Error(), pw)
				}
			}
			return
		}
		if loc.scheme == "mem" {
			s, err := Open(t.Context(), raw)
			if err != nil {
				t.Fatalf("Open(%q) = %v after parse accepted it", raw, err)
			}
			s.Close()
		}
	})
}
