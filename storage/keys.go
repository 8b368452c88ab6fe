package storage

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ValidateKey reports whether key is a valid object key. It returns nil for a
// valid key and otherwise an error wrapping [ErrInvalidKey] that says why.
//
// A valid key is non-empty, valid UTF-8, does not start with "/", contains no
// NUL byte and no backslash, and has no empty segment ("a//b", a trailing "/")
// and no "." or ".." segment. Spaces, unicode and "=" are allowed. A valid key
// is always equal to its path.Clean form, so it can never name anything outside
// the store's root.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if err := checkChars(key); err != nil {
		return err
	}
	if key[0] == '/' {
		return fmt.Errorf("%w %q: absolute key (starts with \"/\")", ErrInvalidKey, key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := checkSegment(key, seg); err != nil {
			return err
		}
	}
	return nil
}

// ValidatePrefix reports whether prefix is a valid List prefix. It returns nil
// or an error wrapping [ErrInvalidKey].
//
// The empty prefix is valid and matches every key. Otherwise the rules of
// [ValidateKey] apply to every complete segment (those followed by "/"); the
// last, partial segment may be empty (prefix "dt=2026-01-01/") or any run of
// allowed characters (prefix "dt=2026-01-0").
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := checkChars(prefix); err != nil {
		return err
	}
	if prefix[0] == '/' {
		return fmt.Errorf("%w: prefix %q is absolute (starts with \"/\")", ErrInvalidKey, prefix)
	}
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return nil
	}
	for seg := range strings.SplitSeq(prefix[:i], "/") {
		if err := checkSegment(prefix, seg); err != nil {
			return err
		}
	}
	return nil
}

func checkChars(key string) error {
	switch {
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w %q: contains a NUL byte", ErrInvalidKey, key)
	case strings.IndexByte(key, '\\') >= 0:
		return fmt.Errorf("%w %q: contains a backslash", ErrInvalidKey, key)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w %q: not valid UTF-8", ErrInvalidKey, key)
	}
	return nil
}

func checkSegment(key, seg string) error {
	switch seg {
	case "":
		return fmt.Errorf("%w %q: empty path segment", ErrInvalidKey, key)
	case ".", "..":
		return fmt.Errorf("%w %q: %q path segment", ErrInvalidKey, key, seg)
	}
	return nil
}

// JoinKey joins parts with "/" into a key. Leading and trailing slashes of each
// part are trimmed and empty parts are skipped, so JoinKey("t/", "dt=x", "f")
// is "t/dt=x/f". It does not clean "." or ".." (it never resolves them
// silently): validate the result with [ValidateKey] when any part comes from
// data or configuration.
func JoinKey(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		p = strings.Trim(p, "/")
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(p)
	}
	return b.String()
}
