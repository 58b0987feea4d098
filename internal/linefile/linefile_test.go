package linefile_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/alertbeam/alertbeam/internal/linefile"
)

// Lines written in several files of two kinds come back by kind, whole,
// including a line longer than bufio's default limit; an empty write
// leaves no file.
func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 200_000)
	for _, w := range []struct {
		kind  string
		lines []string
	}{{"kept", []string{"1", "2"}}, {"kept", []string{long}}, {"dead.letters", []string{"3 \"bad\""}}, {"acks", nil}} {
		if err := linefile.Write(dir, w.kind, w.lines); err != nil {
			t.Fatal(err)
		}
	}
	got, err := linefile.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	kept := got["kept"]
	slices.Sort(kept)
	if len(got) != 2 || !slices.Equal(kept, []string{"1", "2", long}) || !slices.Equal(got["dead.letters"], []string{"3 \"bad\""}) {
		t.Fatalf("read back %d kinds: kept %d lines, dead.letters %q", len(got), len(kept), got["dead.letters"])
	}
}
