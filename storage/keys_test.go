package storage

import (
	"errors"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidateKey(t *testing.T) {
	valid := []string{"a", "a/b", "dt=2026-01-01/part-0.parquet", "día/ü ñ.parquet", "a b/c d", "..x", "x..", ".hidden", "a/...", "_manifest.json"}
	invalid := []string{"", "/", "/abs", "a/", "a//b", ".", "..", "a/./b", "a/../b", "../a", "a/..", "x\x00y", `a\b`, "\xff"}
	for _, k := range valid {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range invalid {
		if err := ValidateKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	valid := []string{"", "a", "a/", "dt=2026-01-0", "t/dt=2026-01-01/", "a/.", "a/.."}
	invalid := []string{"/", "/a", "a//", "a//b", "../", "a/../b", "x\x00", `a\`}
	for _, p := range valid {
		if err := ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range invalid {
		if err := ValidatePrefix(p); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidatePrefix(%q) = %v, want ErrInvalidKey", p, err)
		}
	}
}

func TestJoinKey(t *testing.T) {
	tests := []struct {
		parts []string
		want  string
	}{
		{nil, ""},
		{[]string{"t", "dt=2026-01-01", "f.parquet"}, "t/dt=2026-01-01/f.parquet"},
		{[]string{"t/", "", "/x/"}, "t/x"},
		{[]string{"a", "..", "b"}, "a/../b"}, // not cleaned; ValidateKey rejects it
	}
	for _, tt := range tests {
		if got := JoinKey(tt.parts...); got != tt.want {
			t.Errorf("JoinKey(%q) = %q, want %q", tt.parts, got, tt.want)
		}
	}
}

func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"a/b", "dt=2026-01-01/x", "a/../b", "a//b", "/x", "x\x00y", "día/ü ñ.parquet", "..", "a\\b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := ValidateKey(key)
		perr := ValidatePrefix(key)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("ValidateKey(%q) = %v, not wrapping ErrInvalidKey", key, err)
			}
			return
		}
		if perr != nil {
			t.Fatalf("valid key %q is not a valid prefix: %v", key, perr)
		}
		if path.Clean(key) != key || path.IsAbs(key) || strings.HasPrefix(path.Clean("/root/"+key), "/root/") == false {
			t.Fatalf("accepted key %q is not clean or escapes the root", key)
		}
		if strings.ContainsAny(key, "\x00\\") || !utf8.ValidString(key) {
			t.Fatalf("accepted key %q has a forbidden character", key)
		}
		for seg := range strings.SplitSeq(key, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted key %q has segment %q", key, seg)
			}
		}
		if JoinKey(strings.Split(key, "/")...) != key {
			t.Fatalf("JoinKey does not round-trip %q", key)
		}
	})
}
