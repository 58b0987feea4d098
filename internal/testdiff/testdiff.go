package testdiff

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
)

// IDs describes how two sorted id sets differ, "" when equal: the counts
// and up to five unexpected and five missing ids.
func IDs(got, want []int64) string {
	var extra, lost []int64
	for _, v := range got {
		if _, ok := slices.BinarySearch(want, v); !ok {
			extra = append(extra, v)
		}
	}
	for _, v := range want {
		if _, ok := slices.BinarySearch(got, v); !ok {
			lost = append(lost, v)
		}
	}
	if len(extra) == 0 && len(lost) == 0 && len(got) == len(want) {
		return ""
	}
	head := func(s []int64) []int64 { return s[:min(len(s), 5)] }
	return fmt.Sprintf("%d ids, want %d: %d unexpected (e.g. %v), %d missing (e.g. %v)", len(got), len(want), len(extra), head(extra), len(lost), head(lost))
}

// ShortSum is the first 8 bytes of b's SHA-256 in hex: enough to tell
// payloads apart in a message without printing them.
func ShortSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}
