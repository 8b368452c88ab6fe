package ingest

import (
	"encoding/binary"
	"math/bits"

	"github.com/txlake/txlake/schemas"
)

// fastScanner is a hand-written, single-pass JSON scanner for the fields a
// schema reads. It handles the common shape of log lines: one object whose
// values are strings without escapes, numbers, true, false, null, and the
// objects of nested field paths (merchant.id). It gives up (ok false) on
// anything else: escapes, arrays, other nested objects, duplicate known
// keys, malformed input. The decoder then parses the line with fastjson,
// which decides and classifies it, so both paths yield the same raws,
// unknown-field counts and quarantine reasons; the scanner accepts only
// strict JSON, a subset of what fastjson accepts.
type fastScanner struct {
	top []scanKey // top-level keys some field reads
	// hint is the index in top of the key expected next (lines tend to
	// repeat the key order of the previous line).
	hint  int
	prio  []int         // per field: index in FromPaths of the path found (when found)
	found uint64        // bit i: field i has a raw on this line
	seen  uint64        // bit i: top[i] was seen on this line
	unk   [][]byte      // unknown top-level keys of this line
	raws  []schemas.Raw // the decoder's raws, filled in place
}

// scanKey is one top-level key: the fields it is a whole path of, and the
// second-level keys of paths it begins.
type scanKey struct {
	name   string
	plain  bool        // name has no '"', '\\' or control character (hinted)
	quoted string      // `"name":`, the compact form hinted compares
	leaf   []fieldPath // paths of length 1
	nested []scanSub   // paths of length 2
}

type scanSub struct {
	name string
	fp   fieldPath
}

type fieldPath struct{ field, path int }

// newFastScanner returns nil when the schema's paths are beyond what the
// scanner handles (deeper than two levels, more than 64 fields or more than
// 64 top-level keys).
func newFastScanner(s *schemas.Schema) *fastScanner {
	if len(s.Fields) > 64 {
		return nil
	}
	fs := &fastScanner{prio: make([]int, len(s.Fields))}
	idx := map[string]int{}
	for i := range s.Fields {
		f := &s.Fields[i]
		for j, p := range f.FromPaths {
			if len(p) > 2 {
				return nil
			}
			k, ok := idx[p[0]]
			if !ok {
				k = len(fs.top)
				idx[p[0]] = k
				fs.top = append(fs.top, scanKey{name: p[0], plain: plainKey(p[0]), quoted: `"` + p[0] + `":`})
			}
			if len(p) == 1 {
				fs.top[k].leaf = append(fs.top[k].leaf, fieldPath{i, j})
			} else {
				fs.top[k].nested = append(fs.top[k].nested, scanSub{p[1], fieldPath{i, j}})
			}
		}
	}
	if len(fs.top) > 64 {
		return nil
	}
	return fs
}

// scan fills fs.raws and fs.unk from ln, or reports false (fs.raws are
// then undefined).
func (fs *fastScanner) scan(ln []byte) bool {
	if !fs.object(ln) {
		return false
	}
	// Fields not on the line are missing; the others were set as found
	// (resetting every raw first showed in profiles).
	if all := uint64(1)<<len(fs.raws) - 1; fs.found != all {
		for i := range fs.raws {
			if fs.found&(1<<i) == 0 {
				fs.raws[i] = schemas.Raw{Kind: schemas.RawMissing}
			}
		}
	}
	return true
}

// object scans the object of one line into fs.raws (the fields in
// fs.found) and fs.unk.
func (fs *fastScanner) object(ln []byte) bool {
	fs.found = 0
	fs.seen = 0
	fs.unk = fs.unk[:0]
	i := skipWS(ln, 0)
	if i >= len(ln) || ln[i] != '{' {
		return false
	}
	i = skipWS(ln, i+1)
	if i < len(ln) && ln[i] == '}' {
		return skipWS(ln, i+1) == len(ln)
	}
	for {
		var key []byte
		k, j := fs.hinted(ln, i)
		if k < 0 {
			var ok bool
			if key, j, ok, _ = scanString(ln, i); !ok {
				return false
			}
			k = fs.lookup(key)
			j = skipWS(ln, j)
			if j >= len(ln) || ln[j] != ':' {
				return false
			}
			j++
		}
		j = skipWS(ln, j)
		var ok bool
		if k < 0 {
			fs.unk = append(fs.unk, key)
			if j, ok = skipScalar(ln, j); !ok {
				return false
			}
		} else {
			if fs.seen&(1<<k) != 0 {
				return false // a duplicate known key: let fastjson decide which wins
			}
			fs.seen |= 1 << k
			sk := &fs.top[k]
			if len(sk.nested) > 0 && j < len(ln) && ln[j] == '{' {
				if len(sk.leaf) > 0 {
					return false // an object where a field wants a value
				}
				if j, ok = fs.scanNested(ln, j, sk.nested); !ok {
					return false
				}
			} else {
				kind, text, b, ascii, next, ok := scanRaw(ln, j)
				if !ok {
					return false
				}
				j = next
				for _, fp := range sk.leaf {
					fs.set(fp, kind, text, b, ascii)
				}
			}
		}
		j = skipWS(ln, j)
		if j >= len(ln) {
			return false
		}
		switch ln[j] {
		case ',':
			i = skipWS(ln, j+1)
		case '}':
			return skipWS(ln, j+1) == len(ln)
		default:
			return false
		}
	}
}

// set records the raw (kind, text, b, ascii) of field fp.field unless the
// line has one from an earlier path of the field.
func (fs *fastScanner) set(fp fieldPath, kind schemas.RawKind, text []byte, b, ascii bool) {
	if bit := uint64(1) << fp.field; fs.found&bit == 0 || fp.path < fs.prio[fp.field] {
		fs.found |= bit
		fs.prio[fp.field] = fp.path
		r := &fs.raws[fp.field]
		r.Kind, r.Text, r.Bool, r.ASCII = kind, text, b, ascii
	}
}

// hinted reports whether the key at ln[i] is the one expected next
// (fs.hint), written compactly ("name": with no space before the colon),
// compared in place: lines tend to repeat the previous line's key order,
// and this skips scanning the key and the colon. It returns the key's index
// and the index after the colon, or -1.
func (fs *fastScanner) hinted(ln []byte, i int) (int, int) {
	h := fs.hint
	if h >= len(fs.top) || !fs.top[h].plain {
		return -1, 0
	}
	// A plain name has no quote, backslash or control character, so the
	// string ends where these bytes say.
	q := fs.top[h].quoted
	if e := i + len(q); e > len(ln) || string(ln[i:e]) != q {
		return -1, 0
	}
	fs.hint = h + 1
	return h, i + len(q)
}

func (fs *fastScanner) lookup(key []byte) int {
	if h := fs.hint; h < len(fs.top) && fs.top[h].name == string(key) {
		fs.hint = h + 1
		return h
	}
	for k := range fs.top {
		if fs.top[k].name == string(key) {
			fs.hint = k + 1
			return k
		}
	}
	return -1
}

// scanNested reads the object at ln[i] ('{') holding second-level keys.
func (fs *fastScanner) scanNested(ln []byte, i int, subs []scanSub) (int, bool) {
	i = skipWS(ln, i+1)
	if i < len(ln) && ln[i] == '}' {
		return i + 1, true
	}
	for {
		key, j, ok, _ := scanString(ln, i)
		if !ok {
			return 0, false
		}
		j = skipWS(ln, j)
		if j >= len(ln) || ln[j] != ':' {
			return 0, false
		}
		kind, text, b, ascii, next, ok := scanRaw(ln, skipWS(ln, j+1))
		if !ok {
			return 0, false
		}
		j = next
		for _, sub := range subs {
			if sub.name == string(key) {
				fs.set(sub.fp, kind, text, b, ascii)
			}
		}
		j = skipWS(ln, j)
		if j >= len(ln) {
			return 0, false
		}
		switch ln[j] {
		case ',':
			i = skipWS(ln, j+1)
		case '}':
			return j + 1, true
		default:
			return 0, false
		}
	}
}

func skipWS(ln []byte, i int) int {
	for i < len(ln) {
		switch ln[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString reads a string without escapes or control characters at
// ln[i] and returns its contents, the index after its closing quote and
// whether the contents are all ASCII. It looks at 8 bytes at a time for the
// first quote, backslash or control character.
func scanString(ln []byte, i int) (text []byte, next int, ok, ascii bool) {
	if i >= len(ln) || ln[i] != '"' {
		return nil, 0, false, false
	}
	var seen uint64 // the bytes before the stop, ORed: bit 7 of a byte is set by non-ASCII
	j := i + 1
	for ; j+8 <= len(ln); j += 8 {
		w := binary.LittleEndian.Uint64(ln[j:])
		if m := stringStops(w); m != 0 {
			n := bits.TrailingZeros64(m) >> 3
			seen |= w & (1<<(8*n) - 1)
			j += n
			if ln[j] != '"' {
				return nil, 0, false, false
			}
			return ln[i+1 : j], j + 1, true, seen&high8 == 0
		}
		seen |= w
	}
	for ; j < len(ln); j++ {
		switch c := ln[j]; {
		case c == '"':
			return ln[i+1 : j], j + 1, true, seen&high8 == 0
		case endsString(c):
			return nil, 0, false, false
		default:
			seen |= uint64(c)
		}
	}
	return nil, 0, false, false
}

const (
	ones8 = 0x0101010101010101
	high8 = 0x8080808080808080
)

// stringStops flags (bit 7 of each byte) the bytes of x, read little
// endian, that end an unescaped string: '"', '\\' and those below 0x20.
// A flag can be wrong only above a right one (borrows run upwards), so the
// lowest flag is always right.
func stringStops(x uint64) uint64 {
	zero := func(y uint64) uint64 { return (y - ones8) &^ y & high8 }
	return zero(x^(ones8*'"')) | zero(x^(ones8*'\\')) | (x-ones8*0x20)&^x&high8
}

// endsString reports whether c ends an unescaped string: '"', '\\' or a
// control character (stringStops is its 8-byte form).
func endsString(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }

// plainKey reports whether a JSON string holding exactly name needs no
// escapes.
func plainKey(name string) bool {
	for i := 0; i < len(name); i++ {
		if endsString(name[i]) {
			return false
		}
	}
	return true
}

// scanRaw reads one scalar value at ln[i]: its raw kind, its text (a
// string's contents, a number as written), for a bool its value, and
// whether the text is all ASCII. It returns the parts, not a schemas.Raw:
// set stores them field by field (copying whole Raw structs stalled on
// store forwarding in profiles).
func scanRaw(ln []byte, i int) (kind schemas.RawKind, text []byte, b, ascii bool, next int, ok bool) {
	if i >= len(ln) {
		return 0, nil, false, false, 0, false
	}
	switch c := ln[i]; {
	case c == '"':
		s, j, ok, ascii := scanString(ln, i)
		return schemas.RawString, s, false, ascii, j, ok
	case c == '-' || (c >= '0' && c <= '9'):
		j, ok := scanNumber(ln, i)
		if !ok {
			return 0, nil, false, false, 0, false
		}
		return schemas.RawNumber, ln[i:j:j], false, true, j, true
	case hasLiteral(ln, i, "null"):
		return schemas.RawNull, nil, false, true, i + 4, true
	case hasLiteral(ln, i, "true"):
		return schemas.RawBool, nil, true, true, i + 4, true
	case hasLiteral(ln, i, "false"):
		return schemas.RawBool, nil, false, true, i + 5, true
	}
	return 0, nil, false, false, 0, false
}

func skipScalar(ln []byte, i int) (int, bool) {
	_, _, _, _, j, ok := scanRaw(ln, i)
	return j, ok
}

func hasLiteral(ln []byte, i int, lit string) bool {
	return len(ln)-i >= len(lit) && string(ln[i:i+len(lit)]) == lit
}

// scanNumber reads a strict JSON number at ln[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(ln []byte, i int) (int, bool) {
	if ln[i] == '-' {
		i++
	}
	digits := func(i int) int {
		for i < len(ln) && ln[i] >= '0' && ln[i] <= '9' {
			i++
		}
		return i
	}
	switch {
	case i < len(ln) && ln[i] == '0':
		i++
	case i < len(ln) && ln[i] >= '1' && ln[i] <= '9':
		i = digits(i)
	default:
		return 0, false
	}
	if i < len(ln) && ln[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(ln) && (ln[i] == 'e' || ln[i] == 'E') {
		i++
		if i < len(ln) && (ln[i] == '+' || ln[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}
