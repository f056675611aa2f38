package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/results"
)

// progress shows a sweep's progress: a one-line bar with ETA and the best
// result so far on a terminal, plain log lines otherwise (CI, pipes).
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	metric results.Metric
	total  int
	// planned, when set, is the total for a sweep whose trials are not all
	// known when it starts (tpe proposes them as it runs).
	planned int
	done    int
	start   time.Time
	best    framework.Standing
	last    time.Time
}

func newProgress(w io.Writer, metric results.Metric) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty, metric: metric}
}

func (p *progress) SweepStarted(info framework.SweepInfo, trials []framework.TrialPlan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.start = max(len(trials), p.planned), time.Now()
	fmt.Fprintf(p.w, "sweep %s: %d trials\n", info.Name, len(trials))
}

func (p *progress) TrialStarted(*framework.TrialPlan)                        {}
func (p *progress) Iteration(*framework.TrialPlan, framework.IterationStats) {}
func (p *progress) Epoch(*framework.TrialPlan, framework.EpochStats)         {}

func (p *progress) TrialFinished(t *framework.TrialPlan, o framework.TrialOutcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	v := p.metric.Value(&framework.TrialData{Final: o.Result.Final, TimeToTarget: o.Result.TimeToTarget()})
	if p.tty {
		if time.Since(p.last) < 100*time.Millisecond && p.done < p.total {
			return
		}
		p.last = time.Now()
		fmt.Fprintf(p.w, "\r\033[K%s", p.bar())
		return
	}
	extra := ""
	switch o.Status {
	case framework.Diverged:
		extra = fmt.Sprintf(" at iteration %d (last finite loss %s)", o.Result.DivergedIteration, fmtFloat(o.Result.LastFiniteLoss))
	case framework.Failed:
		extra = ": " + firstLine(o.Error)
	default:
		extra = fmt.Sprintf(" %s=%s", p.metric.Name, fmtFloat(v))
	}
	fmt.Fprintf(p.w, "[%d/%d] trial %s %s%s (%s, %d epochs, %s)\n", p.done, p.total, t.ID, o.Status, extra,
		results.Describe(*t), o.Result.Epochs, readableDuration(o.Result.Seconds))
}

// readableDuration is seconds rounded to about three significant digits:
// 41.2µs, 3.46ms, 1.23s, 2m5s.
func readableDuration(seconds float64) time.Duration {
	d := time.Duration(seconds * float64(time.Second))
	unit := time.Duration(1)
	for unit < time.Second && d >= 1000*unit {
		unit *= 10
	}
	return d.Round(unit)
}

func (p *progress) bar() string {
	const width = 24
	frac := float64(p.done) / float64(max(p.total, 1))
	filled := int(frac * width)
	eta := "?"
	if p.done > 0 {
		el := time.Since(p.start)
		eta = (time.Duration(float64(el)/frac) - el).Round(time.Second).String()
	}
	best := ""
	if p.best.Plan != nil {
		best = fmt.Sprintf(" best mean %s=%s over %d (%s)", p.metric.Name, fmtFloat(p.best.Mean), p.best.N, results.Describe(*p.best.Plan))
		if p.best.Note != "" {
			best += " [" + p.best.Note + "]"
		}
	}
	return fmt.Sprintf("[%s%s] %d/%d ETA %s%s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.done, p.total, eta, best)
}

// Standing takes the sweep's best grid point so far (mean over repeats,
// ranked as 'sweep best' ranks), shown on the bar.
func (p *progress) Standing(_ string, s framework.Standing) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.best = s
}

func (p *progress) SweepFinished(framework.SweepInfo, framework.SweepSummary) {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
