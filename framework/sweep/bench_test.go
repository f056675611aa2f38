package sweep_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/sweep"
	"github.com/gradsweep/gradsweep/metrics"
	"github.com/gradsweep/gradsweep/store/sqlite"
)

// cpuGrid is a CPU-bound grid: 8 trials of an MLP on digits, each about a
// tenth of a second.
const cpuGrid = `name: cpu-grid
seed: 1
dataset: {builtin: digits, validation_split: 0.2}
model:
  - {type: dense, units: 64, init: he}
  - {type: relu}
  - {type: dense, units: 10}
loss: cross_entropy
optimizer: {type: sgd}
training: {learning_rate: 0.05, batch_size: 16, epochs: 3}
grid:
  training.learning_rate: [0.01, 0.02, 0.05, 0.1]
  optimizer.type: [sgd, momentum]
`

func prepare(b *testing.B, text string) *sweep.Prepared {
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

// BenchmarkInstrumentation runs the same sweep bare and with the SQLite
// store and live metrics; the bound is ≤ 3% extra time.
func BenchmarkInstrumentation(b *testing.B) {
	p := prepare(b, cpuGrid)
	b.Run("bare", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			runSweep(b, p, sweep.Options{Workers: 2})
		}
	})
	b.Run("sqlite+metrics", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			st, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			m := metrics.New()
			b.StartTimer()
			runSweep(b, p, sweep.Options{Workers: 2, Store: st, Sinks: []framework.Sink{m}})
			if err := st.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTrialOverhead: 200 tiny trials (1 epoch of 8 samples), store
// included; reports ms per trial (the bound is ≤ 2 ms).
func BenchmarkTrialOverhead(b *testing.B) {
	lrs := make([]string, 200)
	for i := range lrs {
		lrs[i] = fmt.Sprint(0.001 * float64(i+1))
	}
	text := `name: tiny
dataset: {synthetic: xor, n: 8}
model: [{type: dense, units: 4}, {type: tanh}, {type: dense, units: 2}]
loss: cross_entropy
training: {learning_rate: 0.1, batch_size: 4, epochs: 1}
grid:
  training.learning_rate: [` + strings.Join(lrs, ", ") + `]
`
	p := prepare(b, text)
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

// BenchmarkMemoryPerFinishedTrial runs 1,000 tiny trials and reports how
// much live heap each finished trial leaves behind (the sweep's memory
// must not grow with the number of finished trials beyond a few hundred
// bytes of bookkeeping each).
func BenchmarkMemoryPerFinishedTrial(b *testing.B) {
	lrs := make([]string, 1000)
	for i := range lrs {
		lrs[i] = fmt.Sprint(0.0001 * float64(i+1))
	}
	text := `name: many
dataset: {synthetic: xor, n: 8}
model: [{type: dense, units: 4}, {type: tanh}, {type: dense, units: 2}]
loss: cross_entropy
training: {learning_rate: 0.1, batch_size: 4, epochs: 1}
grid:
  training.learning_rate: [` + strings.Join(lrs, ", ") + `]
`
	p := prepare(b, text)
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		st, err := sqlite.Open(filepath.Join(b.TempDir(), "many.db"))
		if err != nil {
			b.Fatal(err)
		}
		m := metrics.New(metrics.WithGracePeriod(0)) // finished trials' series go at once
		runSweep(b, p, sweep.Options{Workers: 2, Store: st, Sinks: []framework.Sink{m}})
		runtime.GC()
		runtime.ReadMemStats(&after)
		st.Close()
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1000, "heap-bytes/trial")
	}
}
