// Package progress reports the progress of long work: a bar when stderr is a
// terminal, and quiet occasional lines otherwise (CI logs, pipes).
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Reporter receives (done, total) updates; it is safe to call often.
type Reporter struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	desc  string
	total int
	last  time.Time
	start time.Time
	every time.Duration
}

// New returns a reporter for work of total units written to w (usually
// os.Stderr). A terminal gets a bar; anything else a line every few seconds.
func New(w io.Writer, desc string, total int) *Reporter {
	r := &Reporter{w: w, desc: desc, total: total, start: time.Now(), every: 5 * time.Second}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("CI") == "" {
		r.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return r
}

// Update reports that done of total units are complete.
func (r *Reporter) Update(done, total int) {
	if r == nil {
		return
	}
	if r.bar != nil {
		if total != r.total {
			r.bar.ChangeMax(total)
			r.total = total
		}
		r.bar.Set(done)
		return
	}
	now := time.Now()
	if done < total && now.Sub(r.last) < r.every {
		return
	}
	r.last = now
	fmt.Fprintf(r.w, "%s: %d/%d (%.0fs)\n", r.desc, done, total, now.Sub(r.start).Seconds())
}

// Func returns Update as a func value, the shape most packages accept.
func (r *Reporter) Func() func(done, total int) { return r.Update }

// Done finishes the bar.
func (r *Reporter) Done() {
	if r != nil && r.bar != nil {
		r.bar.Finish()
	}
}
