package ingest

import (
	"bytes"
	"encoding/binary"
)

// trimBOM strips a UTF-8 byte order mark at the very start of a stream.
func trimBOM(b []byte, offset int64) []byte {
	if offset == 0 {
		return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	}
	return b
}

// isASCII reports whether b is all ASCII, 8 bytes at a time.
func isASCII(b []byte) bool {
	var seen uint64
	for len(b) >= 8 {
		seen |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		seen |= uint64(c)
	}
	return seen&high8 == 0
}
