package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/results"
)

// progress shows a sweep's progress. On a terminal it keeps one status
// line, redrawn in place and cut to the terminal's width: trials and
// epochs done, the ETA and the best result so far. Elsewhere (CI, pipes) it
// prints a line per finished trial and, when nothing else was printed for
// a while, a heartbeat line with the same counts.
//
// The ETA comes from the work done, counted in epochs: a finished trial
// counts all its planned epochs (a pruned, diverged or early-stopped
// trial's remaining epochs will not be trained), a running one the epochs
// it has finished.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	width  func() int // the terminal's columns; nil when w is not a terminal
	label  string     // "shard 1/4: " when the run is one shard of several, else ""
	metric results.Metric
	// repeats of each grid point: with one, the best point is the best
	// trial; with more, it is the best mean over the point's repeats.
	repeats int
	// stored, when set, gives the states of the sweep's stored trials
	// (after the store prepared the sweep), so a resumed run counts the
	// trials finished before it as done.
	stored func(sweep string) (map[string]framework.Status, error)
	// plannedTrials, when set, is the sweep's trial count when not all its
	// trials are known as it starts (tpe proposes them as it runs).
	plannedTrials int

	total, done, before int            // trials: of this run's share, finished, finished before this run
	planned, finished   int            // epochs: planned for the trials to run, and of trials finished in this run
	running             map[string]int // epochs done by each running trial
	start               time.Time
	best                framework.Standing
	lastDraw            time.Time // terminal: last redraw; elsewhere: last line printed
	interval            time.Duration
	stop                chan struct{}
	stopped             sync.WaitGroup
}

// Redraw and heartbeat intervals.
const (
	redrawEvery    = time.Second // the terminal line's clock and ETA
	redrawMin      = 100 * time.Millisecond
	heartbeatEvery = 5 * time.Second // a line when not on a terminal and nothing else was printed
)

// newProgress shows progress on w; the experiment's metric and repeats are
// set once it is loaded.
func newProgress(w io.Writer) *progress {
	p := &progress{w: w, running: map[string]int{}, interval: heartbeatEvery}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.width = func() int { return terminalWidth(f) }
			p.interval = redrawEvery
		}
	}
	return p
}

// terminalWidth is the number of columns of the terminal f, or 80 when
// the terminal does not say.
func terminalWidth(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 80
	}
	return int(ws.Col)
}

// loading says the experiment and its data are being loaded, which can
// take seconds (MNIST); on a terminal the sweep's first line replaces it.
func (p *progress) loading(file string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.width != nil {
		fmt.Fprint(p.w, cut(p.label+"loading "+file+" and its data…", p.width()-1))
		return
	}
	fmt.Fprintf(p.w, "%sloading %s and its data\n", p.label, file)
}

func (p *progress) SweepStarted(info framework.SweepInfo, trials []framework.TrialPlan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.width != nil {
		fmt.Fprint(p.w, "\r\033[K") // the loading line
	}
	p.total, p.start = len(trials), time.Now()
	var states map[string]framework.Status
	if p.stored != nil {
		states, _ = p.stored(info.Name) // without them, every trial counts as to run
	}
	known := 0 // epochs of every known trial, finished or not
	for i := range trials {
		e := plannedEpochs(&trials[i])
		known += e
		if isFinished(states[trials[i].ID]) {
			p.before++
		} else {
			p.planned += e
		}
	}
	if more := p.plannedTrials - len(trials); more > 0 && len(trials) > 0 {
		// trials proposed later (tpe): as many epochs as the known ones, on average
		p.total += more
		p.planned += more * known / len(trials)
	}
	p.done = p.before
	of := ""
	if info.Planned != len(trials) {
		of = fmt.Sprintf(" of %d", info.Planned)
	}
	head := fmt.Sprintf("%ssweep %s: %s%s", p.label, info.Name, framework.Count(len(trials), "trial", "trials"), of)
	if p.before > 0 {
		head += fmt.Sprintf(", %d finished before", p.before)
	}
	fmt.Fprintln(p.w, head)
	p.draw(time.Now())
	p.stop = make(chan struct{})
	p.stopped.Add(1)
	go p.tick()
}

// tick redraws the terminal line every second, or prints a heartbeat
// when nothing was printed for a while, until SweepFinished.
func (p *progress) tick() {
	defer p.stopped.Done()
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			if p.width != nil || now.Sub(p.lastDraw) >= p.interval {
				p.draw(now)
			}
			p.mu.Unlock()
		}
	}
}

// draw shows the counts: the terminal line, or a heartbeat line.
func (p *progress) draw(now time.Time) {
	p.lastDraw = now
	if p.width == nil {
		if p.done > p.before || len(p.running) > 0 || now.Sub(p.start) >= p.interval {
			fmt.Fprintf(p.w, "%s[%d/%d] %s\n", p.label, p.done, p.total, p.status(now))
		}
		return
	}
	fmt.Fprintf(p.w, "\r\033[K%s", p.line(now, p.width()))
}

// status is the counts in words: running trials, epochs, elapsed, ETA.
func (p *progress) status(now time.Time) string {
	s := fmt.Sprintf("%d running, epochs %d/%d, %s elapsed, %s", len(p.running), p.workDone(), p.planned,
		now.Sub(p.start).Round(time.Second), p.eta(now))
	if b := p.bestText(); b != "" {
		s += "; " + b
	}
	return s
}

// line is the terminal's status line, at most width-1 columns wide (a
// line that fills the last column wraps on some terminals).
func (p *progress) line(now time.Time, width int) string {
	counts := fmt.Sprintf("%s%d/%d trials  epochs %d/%d  %s", p.label, p.done, p.total, p.workDone(), p.planned, p.eta(now))
	best := p.bestText()
	room := width - 1 - utf8.RuneCountInString(counts)
	if best != "" {
		room -= 2 + utf8.RuneCountInString(best)
	}
	if room >= 12 { // a bar of at least 10 cells, and a space
		n := min(room-2, 30)
		filled := 0
		if p.planned > 0 {
			filled = int(float64(n) * float64(p.workDone()) / float64(p.planned))
		}
		counts = fmt.Sprintf("[%s%s] %s", strings.Repeat("=", filled), strings.Repeat(" ", n-filled), counts)
	}
	if best != "" {
		counts += "  " + best
	}
	return cut(counts, width-1)
}

// cut shortens s to at most n runes, ending in "…" when it cut.
func cut(s string, n int) string {
	if n < 1 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// workDone is the epochs done: all planned epochs of the trials finished
// in this run, and the finished epochs of the running ones.
func (p *progress) workDone() int {
	n := p.finished
	for _, e := range p.running {
		n += e
	}
	return n
}

// eta extrapolates the time left from the epochs done so far: "ETA 3s",
// "ETA ?" before the first epoch, and the time taken once all is done.
func (p *progress) eta(now time.Time) string {
	done := p.workDone()
	el := now.Sub(p.start)
	switch {
	case done >= p.planned && len(p.running) == 0:
		return "took " + el.Round(time.Millisecond).String()
	case done == 0:
		return "ETA ?"
	}
	left := time.Duration(float64(el) * float64(p.planned-done) / float64(done))
	return "ETA " + left.Round(time.Second).String()
}

// bestText is the best grid point so far as package results ranks it,
// labelled as the best trial (one repeat) or the best mean over repeats.
func (p *progress) bestText() string {
	if p.best.Plan == nil {
		return ""
	}
	what := "best trial"
	if p.repeats > 1 {
		what = fmt.Sprintf("best mean of %d/%d repeats", p.best.N, p.repeats)
	}
	s := fmt.Sprintf("%s %s=%s (%s)", what, p.metric.Name, fmtFloat(p.best.Mean), results.Describe(*p.best.Plan))
	if p.best.Note != "" {
		s += " [" + p.best.Note + "]"
	}
	return s
}

func (p *progress) TrialStarted(t *framework.TrialPlan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.running[t.ID]; !ok {
		p.running[t.ID] = 0
	}
}

func (p *progress) Iteration(*framework.TrialPlan, framework.IterationStats) {}

func (p *progress) Epoch(t *framework.TrialPlan, s framework.EpochStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[t.ID] = min(s.Epoch, plannedEpochs(t))
	if now := time.Now(); p.width != nil && now.Sub(p.lastDraw) >= redrawMin {
		p.draw(now)
	}
}

func (p *progress) TrialFinished(t *framework.TrialPlan, o framework.TrialOutcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	delete(p.running, t.ID)
	p.finished += plannedEpochs(t)
	now := time.Now()
	if p.width != nil {
		if now.Sub(p.lastDraw) >= redrawMin || p.done == p.total {
			p.draw(now)
		}
		return
	}
	p.lastDraw = now
	fmt.Fprintf(p.w, "%s[%d/%d] trial %s %s%s (%s, %s, %s)\n", p.label, p.done, p.total, t.ID, o.Status, p.outcome(o),
		results.Describe(*t), framework.Count(o.Result.Epochs, "epoch", "epochs"), readableDuration(o.Result.Seconds))
}

// outcome is what a finished trial's line says after its state.
func (p *progress) outcome(o framework.TrialOutcome) string {
	switch o.Status {
	case framework.Diverged:
		return fmt.Sprintf(" at iteration %d (last finite loss %s)", o.Result.DivergedIteration, fmtFloat(o.Result.LastFiniteLoss))
	case framework.Failed:
		return ": " + firstLine(o.Error)
	}
	v := p.metric.Value(&framework.TrialData{Final: o.Result.Final, TimeToTarget: o.Result.TimeToTarget()})
	return fmt.Sprintf(" %s=%s", p.metric.Name, fmtFloat(v))
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

// Standing takes the sweep's best grid point so far (ranked as 'sweep
// best' ranks), shown on the status line.
func (p *progress) Standing(_ string, s framework.Standing) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.best = s
}

func (p *progress) SweepFinished(framework.SweepInfo, framework.SweepSummary) {
	if !p.close() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.width != nil {
		p.draw(time.Now())
		fmt.Fprintln(p.w)
	}
}

// close stops the redraws and heartbeats, for SweepFinished or a run that
// failed before the sweep finished. It reports whether they were running.
func (p *progress) close() bool {
	if p.stop == nil {
		return false
	}
	close(p.stop)
	p.stopped.Wait()
	p.stop = nil
	return true
}

// plannedEpochs is the trial's training.epochs (at least 1).
func plannedEpochs(t *framework.TrialPlan) int {
	switch n := t.Params["training.epochs"].(type) {
	case int:
		return max(n, 1)
	case int64:
		return int(max(n, 1))
	case float64:
		return int(max(n, 1))
	}
	return 1
}

// isFinished tells the states a run does not train again.
func isFinished(s framework.Status) bool {
	switch s {
	case framework.Completed, framework.Diverged, framework.Failed, framework.Pruned:
		return true
	}
	return false
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
