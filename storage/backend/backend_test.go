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
		{url: "s3://bucket/prefix", wantURL: "s3://bucket/prefix/k"},
		{url: "s3://bucket", wantURL: "s3://bucket/k"},
		{url: "s3://bucket/", wantURL: "s3://bucket/k"},
		{url: "s3://my.lake-2026/a/dt=x/", wantURL: "s3://my.lake-2026/a/dt=x/k"},
		{url: "s3://bucket/with%20space", wantURL: "s3://bucket/with space/k"},
		{url: "S3://bucket", wantURL: "s3://bucket/k"},
		{url: "s3://", wantErr: "empty bucket name"},
		{url: "s3:///prefix", wantErr: "empty bucket name"},
		{url: "s3:bucket/x", wantErr: "want s3://bucket"},
		{url: "s3://ab/x", wantErr: "3 to 63 characters"},
		{url: "s3://Bucket/x", wantErr: "lowercase letters"},
		{url: "s3://buck_et/x", wantErr: "lowercase letters"},
		{url: "s3://buck..et/x", wantErr: `contains ".."`},
		{url: "s3://bucket:9000/x", wantErr: "not a host:port"},
		{url: "s3://bucket/a/../b", wantErr: "bad prefix"},
		{url: "s3://bucket/a//b", wantErr: "bad prefix"},
		{url: "s3://bucket/p?versionId=1", wantErr: "query"},
		{url: "s3://bucket/p#x", wantErr: "fragment"},
		{url: "hdfs://u:hunter2@nn:8020/lake", wantErr: `lake URL "hdfs://REDACTED@nn:8020/lake": an hdfs URL cannot carry a user name`},
		{url: "hdfs://nn:8020/a/../b", wantErr: `".." segment`},
		{url: "hdfs://nn:8020/x?user=a", wantErr: "query"},
		{url: "hdfs:lake", wantErr: "want hdfs://"},
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

func TestOpenS3Endpoint(t *testing.T) {
	t.Setenv(S3EndpointEnv, "http://127.0.0.1:1")
	s, err := Open(t.Context(), "s3://bucket/lake")
	if err != nil {
		t.Fatalf("Open with %s set: %v", S3EndpointEnv, err)
	}
	s.Close()
	t.Setenv(S3EndpointEnv, "ftp://user:hunter2@host")
	if _, err := Open(t.Context(), "s3://bucket/lake"); err == nil || !strings.Contains(err.Error(), "endpoint") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Open with a bad %s = %v, want an endpoint error without the password", S3EndpointEnv, err)
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

// TestParseHDFS checks how hdfs:// URLs are parsed without contacting a
// NameNode (storage/hdfs's own tests open real ones).
func TestParseHDFS(t *testing.T) {
	tests := []struct {
		url         string
		addrs       string // comma-joined Options.Addresses
		nameservice string
		root        string
	}{
		{url: "hdfs://nn:8020/lake", addrs: "nn:8020", root: "/lake"},
		{url: "hdfs://10.0.0.1:9000/a/b/", addrs: "10.0.0.1:9000", root: "/a/b"},
		{url: "HDFS://nn:8020", addrs: "nn:8020", root: "/"},
		{url: "hdfs://prod/lake", nameservice: "prod", root: "/lake"},
		{url: "hdfs:///lake", root: "/lake"},
		{url: "hdfs://nn:1/with%20space/dt=x", addrs: "nn:1", root: "/with space/dt=x"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			loc, err := parse(tt.url)
			if err != nil {
				t.Fatalf("parse(%q): %v", tt.url, err)
			}
			o := loc.hdfs
			if loc.scheme != "hdfs" || strings.Join(o.Addresses, ",") != tt.addrs || o.Nameservice != tt.nameservice || o.Root != tt.root {
				t.Fatalf("parse(%q) = %+v, want addresses %q, nameservice %q, root %q", tt.url, loc, tt.addrs, tt.nameservice, tt.root)
			}
		})
	}
}
