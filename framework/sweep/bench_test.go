package sweep_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/data"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/sweep"
	"github.com/gradsweep/gradsweep/metrics"
	"github.com/gradsweep/gradsweep/store/sqlite"
)

// cpuGrid is a CPU-bound grid of 16 trials of equal work (an MLP on digits,
// plain SGD at 16 learning rates), each about 70 ms on this machine.
const cpuGrid = `name: cpu-grid
seed: 1
dataset: {builtin: digits, validation_split: 0.2}
model:
  - {type: dense, units: 64, init: he}
  - {type: relu}
  - {type: dense, units: 10}
loss: cross_entropy
optimizer: {type: sgd}
training: {learning_rate: 0.05, batch_size: 16, epochs: 30}
grid:
  training.learning_rate: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.01, 0.011, 0.012, 0.013, 0.014, 0.015, 0.016]
`

func prepare(b testing.TB, text string) *sweep.Prepared {
	b.Helper()
	e, err := experiment.Parse([]byte(text), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	p, err := sweep.Prepare(e, framework.Default())
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func runSweep(b *testing.B, p *sweep.Prepared, opt sweep.Options) framework.SweepSummary {
	sum, err := sweep.Run(context.Background(), p, opt)
	if err != nil {
		b.Fatal(err)
	}
	return sum
}

// BenchmarkWorkers reports trials/s of the CPU-bound grid with 1 and 2
// workers; the target is ≥ 1.85× from 1 to 2 on 2 cores.
func BenchmarkWorkers(b *testing.B) {
	p := prepare(b, cpuGrid)
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runSweep(b, p, sweep.Options{Workers: w})
			}
			b.ReportMetric(float64(len(p.Plans)*b.N)/b.Elapsed().Seconds(), "trials/s")
		})
	}
}

// BenchmarkInstrumentation runs the same sweep bare, with live metrics,
// with the SQLite store, and with both, interleaved: each of b.N rounds
// runs all four, in a random order (a fixed seed), so drift in the
// machine's speed falls on every mode alike and no mode always follows the
// same one. Each run starts from a collected heap and ends with a
// collection, so it pays for its own garbage and nobody else's. It
// reports each mode's extra CPU time over bare (the process's user +
// system seconds, steadier than wall time on a shared VM) as the median
// over rounds of the per-round ratio, in percent; the bound is 3%
// for sqlite+metrics, whose upper 95% confidence bound (bootstrap) it
// reports too. "cpu-grid" has tiny trials (an iteration is a few
// µs); "gd-vs-sgd" and "mnist" are the shipped experiments. Run it with
// -benchtime 30x or more: a single run's CPU time varies by ±5%.
func BenchmarkInstrumentation(b *testing.B) {
	gd, err := os.ReadFile("../../experiments/gd-vs-sgd-vs-minibatch.yaml")
	if err != nil {
		b.Fatal(err)
	}
	oneRepeat := strings.Replace(string(gd), "repeats: 3", "repeats: 1", 1) // more rounds per minute
	if oneRepeat == string(gd) {
		b.Fatal(`gd-vs-sgd-vs-minibatch.yaml no longer says "repeats: 3": update the 1-repeat variant`)
	}
	sweeps := []struct{ name, text string }{{"cpu-grid", cpuGrid}, {"gd-vs-sgd", string(gd)}, {"gd-vs-sgd-1rep", oneRepeat}}
	if _, err := data.MNISTDir(); err == nil { // the MNIST sweep needs the GoMNIST module
		mn, _ := os.ReadFile("../../experiments/mnist.yaml")
		sweeps = append(sweeps, struct{ name, text string }{"mnist", string(mn)})
	}
	modes := []string{"bare", "metrics", "sqlite", "sqlite+metrics"}
	for _, sw := range sweeps {
		p := prepare(b, sw.text)
		b.Run(sw.name, func(b *testing.B) {
			cpu := make([][]float64, len(modes)) // [mode][round]
			order := rand.New(rand.NewPCG(1, 2))
			for round := 0; round < b.N; round++ {
				for _, m := range order.Perm(len(modes)) {
					cpu[m] = append(cpu[m], instrumentedRun(b, p, modes[m]))
				}
			}
			for m := range modes { // with -v
				b.Logf("%s cpu-s by round: %.3f", modes[m], cpu[m])
			}
			for m := 1; m < len(modes); m++ {
				ratios := make([]float64, b.N)
				for round := range ratios {
					ratios[round] = cpu[m][round] / cpu[0][round]
				}
				b.ReportMetric(100*(median(ratios)-1), modes[m]+"-%")
				if m == len(modes)-1 && b.N >= 8 {
					b.ReportMetric(100*(medianUpper95(ratios)-1), modes[m]+"-upper95-%")
				}
			}
			b.ReportMetric(median(cpu[0]), "bare-cpu-s")
		})
	}
}

// instrumentedRun runs p once in the given mode and returns the CPU
// seconds it took.
func instrumentedRun(b *testing.B, p *sweep.Prepared, mode string) float64 {
	opt := sweep.Options{Workers: 2}
	var st *sqlite.Store
	if strings.HasPrefix(mode, "sqlite") {
		var err error
		if st, err = sqlite.Open(filepath.Join(b.TempDir(), "bench.db")); err != nil {
			b.Fatal(err)
		}
		opt.Store = st
	}
	if strings.HasSuffix(mode, "metrics") {
		opt.Sinks = []framework.Sink{metrics.New()}
	}
	runtime.GC() // no mode pays for the garbage of the one before
	cpu0 := cpuSeconds()
	runSweep(b, p, opt)
	if st != nil {
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC() // but each pays for its own
	return cpuSeconds() - cpu0
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianUpper95 is a one-sided 95% upper confidence bound of the median
// of xs: the 95th percentile of the medians of 2,000 bootstrap resamples
// (a fixed seed, so the same rounds give the same bound).
func medianUpper95(xs []float64) float64 {
	rng := rand.New(rand.NewPCG(3, 4))
	meds := make([]float64, 2000)
	sample := make([]float64, len(xs))
	for i := range meds {
		for j := range sample {
			sample[j] = xs[rng.IntN(len(xs))]
		}
		meds[i] = median(sample)
	}
	slices.Sort(meds)
	return meds[len(meds)*95/100]
}

// tinyTrials is an experiment of n tiny trials (1 epoch of 8 samples), one
// per learning rate.
func tinyTrials(n int) string {
	lrs := make([]string, n)
	for i := range lrs {
		lrs[i] = fmt.Sprint(0.0001 * float64(i+1))
	}
	return `name: tiny
dataset: {synthetic: xor, n: 8}
model: [{type: dense, units: 4}, {type: tanh}, {type: dense, units: 2}]
loss: cross_entropy
training: {learning_rate: 0.1, batch_size: 4, epochs: 1}
grid:
  training.learning_rate: [` + strings.Join(lrs, ", ") + `]
`
}

// cpuSeconds is the process's user + system CPU time: steadier than wall
// time on a shared virtual machine.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// BenchmarkTrialOverhead: 200 tiny trials (1 epoch of 8 samples), store
// included; reports ms per trial (the bound is ≤ 2 ms).
func BenchmarkTrialOverhead(b *testing.B) {
	p := prepare(b, tinyTrials(200))
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := sqlite.Open(filepath.Join(b.TempDir(), "tiny.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		runSweep(b, p, sweep.Options{Workers: 2, Store: st})
		st.Close()
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(200*b.N), "ms/trial")
}

// heapProbe is a sink that measures the live heap (after a GC) when the
// n-th trials finish. With flush set (the store's Flush) it first lets the
// store write what it was given: what the sweep keeps is measured, not the
// writes in flight (tiny trials finish thousands a second, so hundreds may
// wait for the next commit; the store's queue bounds them).
type heapProbe struct {
	mu    sync.Mutex
	at    map[int]bool
	done  int
	heaps map[int]uint64
	flush func() error
}

func (h *heapProbe) SweepStarted(framework.SweepInfo, []framework.TrialPlan)   {}
func (h *heapProbe) TrialStarted(*framework.TrialPlan)                         {}
func (h *heapProbe) Iteration(*framework.TrialPlan, framework.IterationStats)  {}
func (h *heapProbe) Epoch(*framework.TrialPlan, framework.EpochStats)          {}
func (h *heapProbe) SweepFinished(framework.SweepInfo, framework.SweepSummary) {}
func (h *heapProbe) TrialFinished(*framework.TrialPlan, framework.TrialOutcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.done++
	if h.at[h.done] {
		if h.flush != nil {
			h.flush()
		}
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		h.heaps[h.done] = m.HeapAlloc
	}
}

// BenchmarkMemoryPerFinishedTrial runs 1,000 tiny trials with the SQLite
// store and live metrics and reports how much the live heap grows per
// finished trial between the 250th and the 1,000th: the sweep's memory
// must not grow with the number of finished trials beyond a little
// bookkeeping each. MEMBENCH=bare, store or metrics runs one part alone.
func BenchmarkMemoryPerFinishedTrial(b *testing.B) {
	p := prepare(b, tinyTrials(1000))
	for i := 0; i < b.N; i++ {
		st, err := sqlite.Open(filepath.Join(b.TempDir(), "many.db"))
		if err != nil {
			b.Fatal(err)
		}
		m := metrics.New(metrics.WithGracePeriod(0)) // finished trials' series go at once
		probe := &heapProbe{at: map[int]bool{250: true, 1000: true}, heaps: map[int]uint64{}}
		opt := sweep.Options{Workers: 2, Store: st, Sinks: []framework.Sink{m, probe}}
		switch os.Getenv("MEMBENCH") { // one part alone
		case "bare":
			opt = sweep.Options{Workers: 2, Sinks: []framework.Sink{probe}}
		case "store":
			opt = sweep.Options{Workers: 2, Store: st, Sinks: []framework.Sink{probe}}
		case "metrics":
			opt = sweep.Options{Workers: 2, Sinks: []framework.Sink{m, probe}}
		}
		if opt.Store != nil {
			probe.flush = st.Flush
		}
		runSweep(b, p, opt)
		st.Close()
		growth := float64(int64(probe.heaps[1000])-int64(probe.heaps[250])) / 750
		b.ReportMetric(growth, "heap-bytes/finished-trial")
		b.ReportMetric(float64(probe.heaps[1000])/1e6, "heap-MB-at-1000")
	}
}

// recorder keeps every event of a sweep, to replay into a store without
// training.
type recorder struct {
	mu     sync.Mutex
	trials map[*framework.TrialPlan]*recorded
	order  []*recorded
}

type recorded struct {
	plan   *framework.TrialPlan
	iters  []framework.IterationStats
	epochs []framework.EpochStats
	out    framework.TrialOutcome
}

func (r *recorder) get(t *framework.TrialPlan) *recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.trials[t]
	if rec == nil {
		rec = &recorded{plan: t}
		r.trials[t] = rec
		r.order = append(r.order, rec)
	}
	return rec
}

func (r *recorder) SweepStarted(framework.SweepInfo, []framework.TrialPlan)   {}
func (r *recorder) SweepFinished(framework.SweepInfo, framework.SweepSummary) {}
func (r *recorder) TrialStarted(t *framework.TrialPlan)                       { r.get(t) }
func (r *recorder) Iteration(t *framework.TrialPlan, s framework.IterationStats) {
	rec := r.get(t)
	rec.iters = append(rec.iters, s)
}
func (r *recorder) Epoch(t *framework.TrialPlan, s framework.EpochStats) {
	rec := r.get(t)
	rec.epochs = append(rec.epochs, s)
}
func (r *recorder) TrialFinished(t *framework.TrialPlan, o framework.TrialOutcome) { r.get(t).out = o }

// BenchmarkStoreReplay replays the events of gd-vs-sgd-vs-minibatch (every
// iteration, epoch and outcome of its 105 trials, recorded once) into a
// fresh SQLite store, claims included, without training: the store's own
// cost per trial, in CPU time of the whole process (the writer included;
// Open and Close not).
func BenchmarkStoreReplay(b *testing.B) {
	gd, err := os.ReadFile("../../experiments/gd-vs-sgd-vs-minibatch.yaml")
	if err != nil {
		b.Fatal(err)
	}
	p := prepare(b, string(gd))
	rec := &recorder{trials: map[*framework.TrialPlan]*recorded{}}
	runSweep(b, p, sweep.Options{Workers: 2, Sinks: []framework.Sink{rec}})
	byID := map[string]*recorded{}
	for _, r := range rec.order {
		byID[r.plan.ID] = r
	}
	info := framework.SweepInfo{Name: p.Exp.Name, ConfigHash: "replay", Seed: p.Exp.Seed}
	b.ResetTimer()
	var cpu float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := sqlite.Open(filepath.Join(b.TempDir(), "replay.db"))
		if err != nil {
			b.Fatal(err)
		}
		if err := st.PrepareSweep(info, p.Plans, false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0 := cpuSeconds()
		for {
			plan, ok, err := st.Claim(info.Name)
			if err != nil {
				b.Fatal(err)
			}
			if !ok {
				break
			}
			r := byID[plan.ID]
			st.TrialStarted(r.plan)
			record := st.IterationRecorder(r.plan) // in batches, as the runner gives them
			for batch := range slices.Chunk(r.iters, framework.IterationBatch) {
				record(batch)
			}
			for _, ep := range r.epochs {
				st.Epoch(r.plan, ep)
			}
			st.TrialFinished(r.plan, r.out)
		}
		st.SweepFinished(info, framework.SweepSummary{})
		cpu += cpuSeconds() - cpu0
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(cpu*1e6/float64(b.N*len(p.Plans)), "cpu-µs/trial")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(p.Plans)), "µs/trial")
}

// The bound is the median for constant data, and above the median, within
// the data's range, for spread data.
func TestMedianUpper95(t *testing.T) {
	if got := medianUpper95([]float64{1.02, 1.02, 1.02}); got != 1.02 {
		t.Errorf("constant data: bound %v, want 1.02", got)
	}
	xs := []float64{0.97, 0.99, 1.00, 1.01, 1.01, 1.02, 1.03, 1.05, 1.08, 1.20}
	if got := medianUpper95(xs); got <= median(xs) || got > 1.08 {
		t.Errorf("bound %v, want above the median %v and at most 1.08", got, median(xs))
	}
}
