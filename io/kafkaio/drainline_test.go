package kafkaio

import "testing"

// On a drain the readers of the same records stop at one line: the
// furthest any has read to, drawn by the first to see the drain; the one
// behind reads on to it, none reads past it.
func TestDrainLine(t *testing.T) {
	l := &drainLine{next: map[int]int64{}, line: -1}
	for off := int64(0); off < 10; off++ {
		if !l.read(false, 0, off) {
			t.Fatalf("reader 0 refused offset %d before the drain", off)
		}
		if off < 4 && !l.read(false, 1, off) {
			t.Fatalf("reader 1 refused offset %d before the drain", off)
		}
	}
	if l.stopped(false, 4) {
		t.Fatal("stopped before the drain")
	}
	// Reader 1, behind at 4, sees the drain first: the line is reader 0's 10.
	if l.stopped(true, 4) || l.line != 10 {
		t.Fatalf("reader 1 at 4: stopped %v, line %d; want reading on to 10", l.stopped(true, 4), l.line)
	}
	if l.read(true, 0, 10) || !l.stopped(true, 10) {
		t.Fatal("reader 0 may read past the line")
	}
	for off := int64(4); off < 10; off++ {
		if !l.read(true, 1, off) {
			t.Fatalf("reader 1 refused offset %d, below the line", off)
		}
	}
	if l.read(true, 1, 10) || !l.stopped(true, 10) {
		t.Fatal("reader 1 may read past the line")
	}

	// The reader ahead sees the drain first: it stops where it is, and the
	// line counts what it read.
	l = &drainLine{next: map[int]int64{}, line: -1}
	l.read(false, 1, 0)
	l.read(false, 0, 0)
	l.read(false, 0, 1)
	if l.read(true, 0, 2) || l.line != 2 || l.stopped(true, 1) || !l.read(true, 1, 1) || !l.stopped(true, 2) {
		t.Fatalf("line %d: the reader ahead did not stop at 2 with the one behind reading on to it", l.line)
	}

	// Lines are kept per Reads and partition.
	a0, again := drainLineOf("run-a", "t", 0), drainLineOf("run-a", "t", 0)
	if a0 != again || a0 == drainLineOf("run-a", "t", 1) || a0 == drainLineOf("run-b", "t", 0) {
		t.Fatal("drain lines are not one per Reads and partition")
	}
}
