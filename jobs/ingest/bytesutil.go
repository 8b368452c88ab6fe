package ingest

import "bytes"

// trimBOM strips a UTF-8 byte order mark at the very start of a stream.
func trimBOM(b []byte, offset int64) []byte {
	if offset == 0 {
		return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	}
	return b
}
