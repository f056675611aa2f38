package sqlite

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/gradsweep/gradsweep/framework"
)

// BenchmarkIteration measures the Sink's Iteration path end to end (queue,
// batching, commit).
func BenchmarkIteration(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	info := sweepInfo("bench", "h")
	plans := makePlans(info.Name, 1)
	if err := s.PrepareSweep(info, plans, false); err != nil {
		b.Fatal(err)
	}
	p := &plans[0]
	s.TrialStarted(p)
	b.ResetTimer()
	for i := range b.N {
		for len(s.ops) > cap(s.ops)-10 { // measure the writer, not the drops
			time.Sleep(100 * time.Microsecond)
		}
		s.Iteration(p, framework.IterationStats{Epoch: 1, Iteration: i + 1, BatchSize: 32, Loss: 0.5})
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEpochRows measures storing epochs (one row each) of many trials.
func BenchmarkEpochRows(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	info := sweepInfo("bench", "h")
	plans := makePlans(info.Name, 100)
	if err := s.PrepareSweep(info, plans, false); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		p := &plans[i%len(plans)]
		s.Epoch(p, framework.EpochStats{Epoch: i/len(plans) + 1, Iteration: i, TrainLoss: 0.5, ValLoss: 0.25})
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAppendLosses measures encoding a trial's batch losses as a JSON
// chunk: 250 points (record.batch_loss_every: auto), with durations as the
// trainer measures them and losses of full precision.
func BenchmarkAppendLosses(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	pts := make([]framework.IterationStats, 250)
	for i := range pts {
		pts[i] = framework.IterationStats{Iteration: 1 + 115*i, Epoch: 1 + i/12, BatchSize: 1,
			Seconds: time.Duration(2000 + rng.IntN(20000)).Seconds(), Loss: 2.3 * rng.Float64()}
	}
	var buf []byte
	for b.Loop() {
		buf = appendLosses(buf[:0], pts)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pts)), "ns/point")
}
