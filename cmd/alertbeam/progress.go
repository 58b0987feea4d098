package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/metrics"
	"github.com/alertbeam/alertbeam/runners"
)

// The progress line of a long command (archive verify, replay, produce):
// counts, rate and elapsed time on one line of a terminal, rewritten in
// place; nothing at all when stderr is a file or a pipe, so logs and
// scripts get only the command's own messages.

// progressEvery is how often the line is redrawn: often enough to look
// live, rarely enough to cost nothing.
const progressEvery = 250 * time.Millisecond

// progress draws one command's line.
type progress struct {
	w          io.Writer
	what, unit string
	start      time.Time

	mu     sync.Mutex
	n      int64
	total  int64 // 0: unknown
	extra  string
	poll   func() (n, total int64)
	width  int // of the line on screen
	ticker *time.Ticker
	stop   chan struct{}
	done   chan struct{}
}

// startProgress starts the progress line of what counting unit on w, or
// returns an inactive one (every method a no-op) when w is not a
// terminal. poll, when not nil, is asked for the counts at each redraw;
// otherwise the command sets them.
func startProgress(w io.Writer, what, unit string, poll func() (n, total int64)) *progress {
	p := &progress{w: w, what: what, unit: unit, start: time.Now(), poll: poll}
	if !isTerminal(w) {
		return p
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	p.ticker = time.NewTicker(progressEvery)
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.ticker.C:
				p.draw(false)
			case <-p.stop:
				return
			}
		}
	}()
	return p
}

// isTerminal reports whether w is a terminal (not /dev/null, a file or a
// pipe: a character device is not enough).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// inProcess reports whether the pipeline's DoFns run in this process, so
// that its metrics count their work: on the direct runner only.
func inProcess() bool {
	r := runners.RunnerName()
	return r == "direct" || r == "prism"
}

// set records the counts, and a note after them (e.g. "3/40 files").
func (p *progress) set(n, total int64, extra string) {
	p.mu.Lock()
	p.n, p.total, p.extra = n, total, extra
	p.mu.Unlock()
}

// finish draws the final line and ends it.
func (p *progress) finish() {
	if p.stop == nil {
		return
	}
	p.ticker.Stop()
	close(p.stop)
	<-p.done
	p.draw(true)
	p.stop = nil
}

func (p *progress) draw(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.poll != nil {
		p.n, p.total = p.poll()
	}
	line := progressText(p.what, p.n, p.total, p.unit, p.extra, time.Since(p.start))
	pad := max(p.width-len(line), 0)
	fmt.Fprint(p.w, "\r"+line+strings.Repeat(" ", pad))
	p.width = len(line)
	if final {
		fmt.Fprintln(p.w)
	}
}

var printer = message.NewPrinter(language.English)

// progressText is the line: "  what: n[/total] unit[, extra]  (rate/s, m:ss)".
// The rate is the average since the start, left out in the first second.
func progressText(what string, n, total int64, unit, extra string, elapsed time.Duration) string {
	var b strings.Builder
	b.WriteString("  " + what + ": " + printer.Sprintf("%d", n))
	if total > 0 {
		b.WriteString(printer.Sprintf("/%d", total))
	}
	b.WriteString(" " + unit)
	if extra != "" {
		b.WriteString(", " + extra)
	}
	b.WriteString("  (")
	if s := elapsed.Seconds(); s >= 1 {
		b.WriteString(printer.Sprintf("%d/s, ", int64(float64(n)/s)))
	}
	secs := int64(elapsed / time.Second)
	if secs >= 3600 {
		fmt.Fprintf(&b, "%d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	} else {
		fmt.Fprintf(&b, "%d:%02d", secs/60, secs%60)
	}
	b.WriteString(")")
	return b.String()
}

// runWriting runs p, a job that writes messages (produce, replay), with a
// progress line of the messages written (of total, where known; 0: unknown)
// when it runs in this process, and says how long it took.
func runWriting(ctx context.Context, w io.Writer, p *beam.Pipeline, what string, total int64) error {
	start := time.Now()
	prog := &progress{}
	if inProcess() {
		prog = startProgress(w, what, "messages written", func() (int64, int64) {
			return int64(metrics.Sum(metrics.MessagesWritten)), total
		})
	}
	_, err := runners.Run(ctx, p)
	prog.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "done in %v\n", time.Since(start).Round(time.Millisecond))
	return nil
}
