package consumer

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// progressEvery keeps the status line to about five redraws a second:
// readable, and cheap on a slow terminal.
const progressEvery = 200 * time.Millisecond

// rateWindow is how far back the running rate looks, so it follows the
// stream (bursts at each visit, silence between) rather than averaging the
// whole run.
const rateWindow = 2 * time.Second

// progress draws one status line, rewriting it in place with '\r'.
type progress struct {
	w       io.Writer
	samples []sample // within rateWindow of the newest, oldest first
	width   int      // length of the line on screen
	shown   string
}

type sample struct {
	at     time.Time
	alerts int
	bytes  int64
}

type snapshotFunc func() (s Stats, first, last time.Time)

// run redraws until ctx ends.
func (p *progress) run(ctx context.Context, snap snapshotFunc) {
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	p.draw(p.line(time.Now(), snap))
	for {
		select {
		case now := <-t.C:
			p.draw(p.line(now, snap))
		case <-ctx.Done():
			return
		}
	}
}

// finish draws the final line, with the average rate from the first to the
// last message (the join and the idle tail left out), and ends it. Spans
// under a second are too short for a rate worth printing.
func (p *progress) finish(snap snapshotFunc) {
	s, first, last := snap()
	text := "  " + commas(int64(s.Alerts)) + " alerts"
	if d := last.Sub(first).Seconds(); d >= 1 {
		text += fmt.Sprintf("  (%s/s, %.1f MB/s)", commas(int64(float64(s.Alerts)/d)), float64(s.Bytes)/d/1e6)
	}
	p.draw(text + errorsText(s.Errors))
	fmt.Fprintln(p.w)
}

// line is the status text at now, with the rate over the last rateWindow.
func (p *progress) line(now time.Time, snap snapshotFunc) string {
	s, _, _ := snap()
	p.samples = append(p.samples, sample{now, s.Alerts, s.Bytes})
	for len(p.samples) > 2 && now.Sub(p.samples[1].at) >= rateWindow {
		p.samples = p.samples[1:]
	}
	text := "  " + commas(int64(s.Alerts)) + " alerts"
	if old := p.samples[0]; s.Bytes > 0 && len(p.samples) > 1 && now.Sub(old.at) > 0 {
		d := now.Sub(old.at).Seconds()
		text += fmt.Sprintf("  (%s/s, %.1f MB/s)", commas(int64(float64(s.Alerts-old.alerts)/d)), float64(s.Bytes-old.bytes)/d/1e6)
	}
	return text + errorsText(s.Errors)
}

// draw replaces the line on screen, blanking what a longer one left.
func (p *progress) draw(text string) {
	if text == p.shown {
		return
	}
	pad := max(p.width-len(text), 0)
	fmt.Fprint(p.w, "\r"+text+strings.Repeat(" ", pad))
	p.width, p.shown = len(text), text
}

func errorsText(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "  1 error"
	}
	return "  " + commas(int64(n)) + " errors"
}

// commas formats n with thousands separators: 1234567 → "1,234,567".
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
