package main

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/schollz/progressbar/v3"
)

// progress shows a bar on a terminal, and logs a line every few seconds
// elsewhere. It is safe for concurrent Add.
type progress struct {
	tty    bool
	w      io.Writer
	log    *slog.Logger
	what   string
	unit   string // what is counted: "" for bytes, else e.g. "dates"
	bar    *progressbar.ProgressBar
	total  int64
	done   atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
	start  time.Time
	period time.Duration
}

func newProgress(w io.Writer, tty bool, log *slog.Logger, what string) *progress {
	return &progress{tty: tty, w: w, log: log, what: what, period: 5 * time.Second}
}

func (p *progress) Start(total int64) {
	p.total, p.start = total, time.Now()
	if p.tty {
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.what),
			progressbar.OptionShowBytes(p.unit == ""),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionClearOnFinish(),
		}
		if p.unit != "" {
			opts = append(opts, progressbar.OptionShowCount())
		}
		p.bar = progressbar.NewOptions64(total, opts...)
		return
	}
	p.stop = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(p.period)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				d := p.done.Load()
				el := time.Since(p.start).Seconds()
				pct := 0.0
				if p.total > 0 {
					pct = 100 * float64(d) / float64(p.total)
				}
				if p.unit != "" {
					p.log.Info(p.what+" progress", p.unit, d, "total", p.total, "percent", int(pct))
					continue
				}
				p.log.Info(p.what+" progress", "bytes", d, "total", p.total, "percent", int(pct), "rate", humanize.Bytes(uint64(float64(d)/max(el, 0.001)))+"/s")
			}
		}
	}()
}

func (p *progress) Add(n int64) {
	p.done.Add(n)
	if p.bar != nil {
		_ = p.bar.Add64(n)
	}
}

func (p *progress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		return
	}
	if p.stop != nil {
		close(p.stop)
		p.wg.Wait()
	}
}
