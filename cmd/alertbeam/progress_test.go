package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// The progress line's text: counts with thousands separators, the total
// when known, a note, the average rate once a second has passed, and the
// elapsed time as m:ss or h:mm:ss.
func TestProgressText(t *testing.T) {
	for _, c := range []struct {
		n, total    int64
		unit, extra string
		elapsed     time.Duration
		want        string
	}{
		{12345, 0, "records", "3/40 files", 5 * time.Second, "  x: 12,345 records, 3/40 files  (2,469/s, 0:05)"},
		{50, 200, "messages written", "", 2500 * time.Millisecond, "  x: 50/200 messages written  (20/s, 0:02)"},
		{7, 0, "records", "", 300 * time.Millisecond, "  x: 7 records  (0:00)"},
		{1234567, 0, "records", "", 3723 * time.Second, "  x: 1,234,567 records  (331/s, 1:02:03)"},
	} {
		if got := progressText("x", c.n, c.total, c.unit, c.extra, c.elapsed); got != c.want {
			t.Errorf("progressText(%d, %d, %q, %q, %v) = %q, want %q", c.n, c.total, c.unit, c.extra, c.elapsed, got, c.want)
		}
	}
}

// Where stderr is not a terminal (a pipe, a file, /dev/null) the progress
// line writes nothing, however it is used.
func TestProgressSilentOffTerminal(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var buf bytes.Buffer
	for _, w := range []interface {
		Write([]byte) (int, error)
	}{&buf, file, null} {
		p := startProgress(w, "replay", "messages", func() (int64, int64) { return 5, 10 })
		if p.ticker != nil {
			t.Errorf("%T: a progress line that redraws off a terminal", w)
		}
		p.set(3, 10, "1/2 files")
		p.finish()
	}
	if st, _ := file.Stat(); buf.Len() != 0 || st.Size() != 0 {
		t.Fatalf("wrote %q to a buffer and %d bytes to a file", buf.String(), st.Size())
	}
}

// On a terminal the line is drawn in place and finished with the latest
// counts and a newline; drawing is tested on a buffer standing in for the
// terminal.
func TestProgressFinalLine(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, what: "produce", unit: "messages written", start: time.Now(), stop: make(chan struct{}), done: make(chan struct{}),
		ticker: time.NewTicker(time.Hour), poll: func() (int64, int64) { return 4, 4 }}
	close(p.done) // no drawing goroutine: only finish draws
	p.finish()
	// (The rate appears only after a second: a slow machine may show it.)
	want := regexp.MustCompile(`^\r  produce: 4/4 messages written  \(([0-9]+/s, )?0:0[0-9]\)\n$`)
	if !want.MatchString(buf.String()) {
		t.Fatalf("drew %q, want %s", buf.String(), want)
	}
}
