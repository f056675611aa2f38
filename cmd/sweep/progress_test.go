package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/results"
)

// Durations print with about three significant digits, whatever their size.
func TestReadableDuration(t *testing.T) {
	for _, c := range []struct {
		seconds float64
		want    string
	}{
		{0, "0s"},
		{412e-9, "412ns"},
		{41.234e-6, "41.2µs"},
		{3.4567e-3, "3.46ms"},
		{0.0456, "45.6ms"},
		{1.23456, "1.23s"},
		{12.3456, "12.3s"},
		{125.123, "2m5s"},
		{4000.4, "1h6m40s"},
	} {
		if got := readableDuration(c.seconds).String(); got != c.want {
			t.Errorf("readableDuration(%v) = %s, want %s", c.seconds, got, c.want)
		}
	}
	if got := readableDuration(0.5); got != 500*time.Millisecond {
		t.Errorf("0.5 s is %v", got)
	}
}

// newTestProgress is a progress on w for a sweep ranked by val_loss.
func newTestProgress(w io.Writer, repeats int) *progress {
	p := newProgress(w)
	p.metric, p.repeats = results.MustLookup("val_loss"), repeats
	return p
}

// openPTY opens a pseudo-terminal of the given width: the controlling
// side (read what is written to the terminal) and the terminal itself.
func openPTY(t *testing.T, cols int) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: uint16(cols)}); err != nil {
		t.Fatal(err)
	}
	return ptmx, tty
}

// runInPTY runs the sweep binary with its standard error on a terminal of
// cols columns and returns what the terminal received.
func runInPTY(t *testing.T, dir string, cols int, args ...string) string {
	t.Helper()
	ptmx, tty := openPTY(t, cols)
	defer ptmx.Close()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child has its own
	var got bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // read until the child closes the terminal (EIO)
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	err := cmd.Wait()
	wg.Wait()
	if err != nil {
		t.Fatalf("sweep %v: %v\n%s%s", args, err, out.String(), got.String())
	}
	return got.String()
}

// screenLines splits terminal output into what each redraw shows: lines
// end at a newline or a carriage return, and "erase to end of line" is
// dropped.
func screenLines(s string) []string {
	s = strings.ReplaceAll(s, "\033[K", "")
	return strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' })
}

// On a terminal, a line says the data is loading (MNIST takes seconds),
// then the status line shows 0/N before any trial finished,
// counts epochs inside running trials, labels the best as a mean over
// repeats, and never fills the terminal's width (a full line wraps and
// the redraws stack up): tested at 80 and 160 columns.
func TestProgressInTerminal(t *testing.T) {
	for _, cols := range []int{80, 160} {
		dir := workdir(t, "small.yaml")
		got := runInPTY(t, dir, cols, "run", "small.yaml", "--workers", "2")
		lines := screenLines(got)
		if len(lines) < 4 {
			t.Fatalf("%d columns: %q", cols, got)
		}
		if lines[0] != "loading small.yaml and its data…" || lines[1] != "sweep small: 36 trials" {
			t.Errorf("%d columns: the first lines are %q", cols, lines[:2])
		}
		if !strings.Contains(lines[2], "0/36 trials") || !strings.Contains(lines[2], "epochs 0/180") {
			t.Errorf("%d columns: the first status line is %q, want 0/36 trials, epochs 0/180", cols, lines[2])
		}
		last := lines[len(lines)-1]
		if !strings.Contains(last, "36/36 trials") || !strings.Contains(last, "epochs 180/180  took ") || !strings.Contains(last, "best mean of 2/2 repeats val_loss=") {
			t.Errorf("%d columns: the last status line is %q", cols, last)
		}
		for _, l := range lines {
			if n := utf8.RuneCountInString(l); n >= cols {
				t.Errorf("%d columns: a line of %d: %q", cols, n, l)
			}
		}
		if !strings.HasPrefix(lines[2], "[  ") {
			t.Errorf("%d columns: no bar on %q", cols, lines[2])
		}
	}
}

// Elsewhere than on a terminal, a heartbeat line says how far the sweep
// is while trials run, with epochs done inside them.
func TestProgressHeartbeat(t *testing.T) {
	var buf syncBuffer
	p := newTestProgress(&buf, 1)
	p.interval = 20 * time.Millisecond
	plans := []framework.TrialPlan{
		{ID: "a", Params: map[string]any{"training.epochs": 10}},
		{ID: "b", Params: map[string]any{"training.epochs": 10}},
	}
	p.SweepStarted(framework.SweepInfo{Name: "hb", Planned: 2}, plans)
	p.TrialStarted(&plans[0])
	p.Epoch(&plans[0], framework.EpochStats{Epoch: 3})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.snapshot().String(), "[0/2] 1 running, epochs 3/20") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.SweepFinished(framework.SweepInfo{}, framework.SweepSummary{})
	if !strings.Contains(buf.snapshot().String(), "[0/2] 1 running, epochs 3/20") {
		t.Errorf("no heartbeat: %q", buf.snapshot().String())
	}
}

// The ETA extrapolates from epochs done, not from trials finished: after
// 5 of 20 planned epochs in 5 s, 15 s are left, though no trial finished.
func TestProgressETAFromEpochs(t *testing.T) {
	p := newTestProgress(&bytes.Buffer{}, 1)
	plans := []framework.TrialPlan{
		{ID: "a", Params: map[string]any{"training.epochs": 10}},
		{ID: "b", Params: map[string]any{"training.epochs": 10}},
	}
	p.SweepStarted(framework.SweepInfo{Name: "eta", Planned: 2}, plans)
	defer p.SweepFinished(framework.SweepInfo{}, framework.SweepSummary{})
	p.TrialStarted(&plans[0])
	p.Epoch(&plans[0], framework.EpochStats{Epoch: 5})
	p.mu.Lock()
	defer p.mu.Unlock()
	if got := p.eta(p.start.Add(5 * time.Second)); got != "ETA 15s" {
		t.Errorf("ETA after 5 of 20 epochs in 5s: %s, want 15s", got)
	}
	// A trial that stops early (pruned, diverged) retires all its epochs.
	p.mu.Unlock()
	p.TrialFinished(&plans[0], framework.TrialOutcome{Status: framework.Pruned})
	p.mu.Lock()
	if got := p.eta(p.start.Add(5 * time.Second)); got != "ETA 5s" {
		t.Errorf("ETA after one of two trials in 5s: %s, want 5s", got)
	}
}

// The best is labelled as the best trial without repeats, as a mean over
// repeats with them.
func TestProgressBestLabel(t *testing.T) {
	plan := framework.TrialPlan{ID: "a", Params: map[string]any{"training.learning_rate": 0.0004726922417170728},
		Varied: []string{"training.learning_rate"}}
	for _, c := range []struct {
		repeats, n int
		want       string
	}{
		{1, 1, "best trial val_loss=0.25 (training.learning_rate=0.0004727)"},
		{3, 2, "best mean of 2/3 repeats val_loss=0.25 (training.learning_rate=0.0004727)"},
	} {
		p := newTestProgress(&bytes.Buffer{}, c.repeats)
		p.Standing("s", framework.Standing{Metric: "val_loss", Plan: &plan, Mean: 0.25, N: c.n})
		if got := p.bestText(); got != c.want {
			t.Errorf("repeats %d: %q, want %q", c.repeats, got, c.want)
		}
	}
}

// Every progress line of a shard names the shard, and so does the
// summary; a resumed run counts the trials finished before it.
func TestProgressNamesShard(t *testing.T) {
	dir := workdir(t, "small.yaml")
	r := runCLI(t, dir, "run", "small.yaml", "--shard", "1/3")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if !strings.HasPrefix(l, "shard 1/3: ") {
			t.Errorf("a line without its shard: %q", l)
		}
	}
	if !strings.HasPrefix(r.stdout, "sweep small (shard 1/3): ") {
		t.Errorf("summary: %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "sweep small: 12 trials of 36") || !strings.Contains(r.stderr, "[12/12] trial") {
		t.Errorf("counts: %q", r.stderr)
	}
}

func TestCut(t *testing.T) {
	if got := cut("best × 0.1", 6); got != "best …" {
		t.Errorf("%q", got)
	}
	if got := cut("abc", 3); got != "abc" {
		t.Errorf("%q", got)
	}
}

// A run that continues a sweep counts the trials finished before it as
// done: it ends at N/N, not at what it trained itself.
func TestProgressCountsTrialsFinishedBefore(t *testing.T) {
	dir := workdir(t, "small.yaml")
	if r := runCLI(t, dir, "run", "small.yaml", "--shard", "0/2", "--quiet"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := runCLI(t, dir, "run", "small.yaml")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	if !strings.Contains(r.stderr, "sweep small: 36 trials, 18 finished before") || !strings.Contains(r.stderr, "[19/36] trial") ||
		!strings.Contains(r.stderr, "[36/36] trial") {
		t.Errorf("resumed run: %q", r.stderr)
	}
}
