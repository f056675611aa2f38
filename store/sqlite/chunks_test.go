package sqlite

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// Batch losses and learning rates survive the JSON of a chunk bit for bit,
// non-finite losses included, whatever their magnitude; a rate not
// recorded reads back as NaN.
func TestLossesRoundTrip(t *testing.T) {
	pts := []framework.IterationStats{
		{Iteration: 1, Epoch: 1, BatchSize: 32, Seconds: 1e-6 / 3, Loss: 2.302585092994046, LearningRate: 0.1 * 0.95},
		{Iteration: 2, Epoch: 1, BatchSize: 32, Seconds: 0, Loss: 0},
		{Iteration: 3, Epoch: 1, BatchSize: 7, Seconds: 12, Loss: 1, LearningRate: 1},
		{Iteration: 9, Epoch: 2, BatchSize: 1, Seconds: 5e-324, Loss: math.MaxFloat64},
		{Iteration: 10, Epoch: 2, BatchSize: 1, Seconds: 1e300, Loss: math.NaN()},
		{Iteration: 11, Epoch: 3, BatchSize: 1, Seconds: 1, Loss: math.Inf(1)},
		{Iteration: 12, Epoch: 3, BatchSize: 1, Seconds: 1, Loss: math.Inf(-1)},
		{Iteration: 13, Epoch: 3, BatchSize: 1, Seconds: 1, Loss: -float64(float32(0.1))},
	}
	text := string(appendLosses(nil, pts))
	if strings.Contains(text, "[3,1,7,12,1,1]") || !strings.Contains(text, "[3,1,7,12.0,1.0,1.0]") {
		t.Errorf("floats must carry a '.' or an exponent: %s", text)
	}
	got, err := parseLosses(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(pts) {
		t.Fatalf("%d points back, want %d", len(got), len(pts))
	}
	for i, p := range pts {
		g := got[i]
		same := g.Loss == p.Loss || math.IsNaN(g.Loss) && math.IsNaN(p.Loss)
		sameLR := g.LearningRate == p.LearningRate || math.IsNaN(g.LearningRate) && p.LearningRate == 0 // not recorded
		if g.Iteration != p.Iteration || g.Epoch != p.Epoch || g.BatchSize != p.BatchSize || g.Seconds != p.Seconds || !same || !sameLR {
			t.Errorf("point %d: %+v, want %+v", i, g, p)
		}
	}
}

// The batch_loss view reads the same values out of the JSON as Go does.
func TestBatchLossViewMatchesChunks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	s := openStore(t, path)
	info := sweepInfo("v", "h")
	plans := makePlans(info.Name, 1)
	if err := s.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	p := &plans[0]
	s.TrialStarted(p)
	x := 0.7
	for i := 1; i <= 3000; i++ { // two chunks of chunkPoints, and the rest when it finishes
		x = 3.7 * x * (1 - x) // values with every bit used
		loss := x
		if i == 2999 {
			loss = math.Inf(-1)
		}
		s.Iteration(p, framework.IterationStats{Iteration: i, Epoch: 1 + i/1000, BatchSize: 8, Seconds: x / 1000, Loss: loss,
			LearningRate: 0.1 * math.Pow(0.999, float64(i))})
	}
	s.TrialFinished(p, framework.TrialOutcome{Status: framework.Completed})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	td, err := s.LoadTrial(p.ID)
	if err != nil || len(td.BatchLoss) != 3000 {
		t.Fatalf("%d batch losses, %v", len(td.BatchLoss), err)
	}
	var chunks int
	rawDB(t, path).QueryRow(`SELECT count(*) FROM batch_loss_chunks`).Scan(&chunks)
	if chunks != 3 {
		t.Errorf("%d chunks, want 3 (chunkPoints %d)", chunks, chunkPoints)
	}
	rows, err := rawDB(t, path).Query(`SELECT iteration, epoch, batch_size, seconds, value, nonfinite, learning_rate FROM batch_loss ORDER BY iteration`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var it framework.IterationStats
		var v nullReal
		if err := rows.Scan(&it.Iteration, &it.Epoch, &it.BatchSize, &it.Seconds, &v.v, &v.nf, &it.LearningRate); err != nil {
			t.Fatal(err)
		}
		it.Loss, _ = fromReal(v.v, v.nf)
		if want := td.BatchLoss[n]; it != want {
			t.Fatalf("view row %d: %+v, Go reads %+v", n, it, want)
		}
		n++
	}
	if n != 3000 {
		t.Fatalf("%d rows in the view", n)
	}
}

// FuzzParseLosses: no input makes the reader panic, and what it accepts
// writes back to text it reads the same.
func FuzzParseLosses(f *testing.F) {
	f.Add(`[[1,1,32,0.001,2.5],[2,1,32,0.002,"NaN"]]`)
	f.Add(`[]`)
	f.Add(`[[1,1,1,1e-300,"-Inf"]]`)
	f.Add(`[[1,2,3]]`)
	f.Fuzz(func(t *testing.T, text string) {
		pts, err := parseLosses(text)
		if err != nil {
			return
		}
		again, err := parseLosses(string(appendLosses(nil, pts)))
		if err != nil {
			t.Fatalf("re-reading %q: %v", appendLosses(nil, pts), err)
		}
		for i := range pts {
			a, b := pts[i], again[i]
			if a.Iteration != b.Iteration || a.Epoch != b.Epoch || a.BatchSize != b.BatchSize ||
				!(a.Loss == b.Loss || math.IsNaN(a.Loss) && math.IsNaN(b.Loss)) {
				t.Fatalf("point %d: %+v then %+v", i, a, b)
			}
		}
	})
}

// Claims that come quickly take several trials ahead; Close gives back as
// pending those not handed out and those handed out but never started.
func TestClaimAheadReleasedOnClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweeps.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	info := sweepInfo("ahead", "h")
	plans := makePlans(info.Name, 10)
	if err := s.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 4 {
		p, ok, err := s.Claim(info.Name)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		got = append(got, p.ID)
	}
	for i, id := range got {
		if id != plans[i].ID {
			t.Fatalf("claims %v: not in index order", got)
		}
	}
	var running int
	rawDB(t, path).QueryRow(`SELECT count(*) FROM trials WHERE state = 'running'`).Scan(&running)
	if running <= 4 {
		t.Fatalf("%d trials running after 4 quick claims: none claimed ahead", running)
	}
	s.TrialStarted(&plans[0])
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	states, err := column(rawDB(t, path), `SELECT id || ' ' || state || ' ' || (started_at IS NULL) FROM trials ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{plans[0].ID + " interrupted 0"}
	for _, p := range plans[1:] {
		want = append(want, p.ID+" pending 1")
	}
	if strings.Join(states, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after Close:\n%s\nwant:\n%s", strings.Join(states, "\n"), strings.Join(want, "\n"))
	}
}

// The per-trial recorder keeps exactly the batch losses Iteration keeps,
// for every thinning, with non-finite losses among them.
func TestIterationRecorderThinsLikeIteration(t *testing.T) {
	for _, every := range []int{-1, 0, 1, 2, 3, 7, 250} {
		path := filepath.Join(t.TempDir(), "sweeps.db")
		s := openStore(t, path)
		info := sweepInfo("thin", "h")
		plans := makePlans(info.Name, 2)
		if err := s.PrepareSweep(info, plans, false); err != nil {
			t.Fatal(err)
		}
		a, b := &plans[0], &plans[1]
		s.TrialStarted(a)
		s.TrialStarted(b)
		rec := s.IterationRecorder(b)
		a.BatchLossEvery, b.BatchLossEvery = every, every // set after TrialStarted, as the runner does
		var batch []framework.IterationStats
		const n = 2600 // past chunkPoints twice: a batch may fill a chunk part way through
		for i := 1; i <= n; i++ {
			loss := float64(i)
			if i%97 == 0 {
				loss = math.NaN()
			}
			if i%131 == 0 {
				loss = math.Inf(1)
			}
			st := framework.IterationStats{Epoch: 1 + i/100, Iteration: i, BatchSize: 4, Loss: loss}
			s.Iteration(a, st)
			batch = append(batch, st)
			if i%(1+i%11) == 0 { // batches of irregular sizes, as the runner's time bound makes them
				rec(batch)
				batch = batch[:0]
			}
		}
		rec(batch)
		s.TrialFinished(a, framework.TrialOutcome{Status: framework.Completed})
		s.TrialFinished(b, framework.TrialOutcome{Status: framework.Completed})
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		ta, _ := s.LoadTrial(a.ID)
		tb, _ := s.LoadTrial(b.ID)
		iters := func(td *framework.TrialData) (out []int) {
			for _, p := range td.BatchLoss {
				out = append(out, p.Iteration)
			}
			return out
		}
		if got, want := iters(tb), iters(ta); !slices.Equal(got, want) || every == 250 && len(want) != 11+26+19 { // 1, 251, …, 2501; 26 NaN, 19 +Inf
			t.Errorf("every %d: recorder kept %v, Iteration kept %v", every, got, want)
		}
		var most int
		if err := s.r.QueryRow(`SELECT max(points) FROM batch_loss_chunks`).Scan(&most); err != nil || most > chunkPoints {
			t.Errorf("every %d: a chunk of %d points (%v), more than %d", every, most, err, chunkPoints)
		}
	}
}

// A diverged trial keeps its last DivergenceTail updates, up to and
// including the diverging one, whatever the thinning, through Iteration
// and through the recorder alike, also when part of its thinned losses
// were stored before it diverged; a trial that does not diverge keeps the
// thinned losses only.
func TestDivergedTrialKeepsItsTail(t *testing.T) {
	const n = 1500 // diverges at iteration n
	for _, every := range []int{-1, 7, 50, 1000} {
		for _, exploding := range []bool{true, false} {
			s := openStore(t, filepath.Join(t.TempDir(), "sweeps.db"))
			info := sweepInfo("tail", "h")
			plans := makePlans(info.Name, 3)
			if err := s.PrepareSweep(info, plans, false); err != nil {
				t.Fatal(err)
			}
			a, b, c := &plans[0], &plans[1], &plans[2]
			for _, p := range []*framework.TrialPlan{a, b, c} {
				s.TrialStarted(p)
			}
			rec, recC := s.IterationRecorder(b), s.IterationRecorder(c)
			for _, p := range []*framework.TrialPlan{a, b, c} {
				p.BatchLossEvery = every
			}
			var batch []framework.IterationStats
			for i := 1; i <= n; i++ {
				loss := 1 / float64(i)
				if i == n {
					loss = math.NaN()
					if exploding {
						loss = 1e9 // finite: only the trainer knows it diverged
					}
				}
				st := framework.IterationStats{Epoch: 1 + i/100, Iteration: i, BatchSize: 4, Loss: loss}
				s.Iteration(a, st)
				batch = append(batch, st)
				if i%(1+i%13) == 0 {
					rec(batch)
					recC(batch)
					batch = batch[:0]
				}
				if i == n-10 { // stores what was recorded so far, inside the tail
					if err := s.Flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			rec(batch)
			recC(batch)
			diverged := framework.TrialOutcome{Status: framework.Diverged,
				Result: framework.Result{Status: framework.Diverged, Iterations: n, DivergedIteration: n, LastFiniteLoss: 1 / float64(n-1)}}
			s.TrialFinished(a, diverged)
			s.TrialFinished(b, diverged)
			s.TrialFinished(c, framework.TrialOutcome{Status: framework.Completed, Result: framework.Result{Status: framework.Completed, Iterations: n}})
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			// what thinning keeps: the first (unless every < 0), every n-th, the non-finite
			var thinned []int
			for i := 1; i <= n; i++ {
				if every > 0 && (i-1)%every == 0 || i == n && !exploding {
					thinned = append(thinned, i)
				}
			}
			withTail := slices.Clone(thinned)
			for i := n - DivergenceTail + 1; i <= n; i++ {
				if !slices.Contains(withTail, i) {
					withTail = append(withTail, i)
				}
			}
			slices.Sort(withTail)
			for _, w := range []struct {
				p    *framework.TrialPlan
				want []int
			}{{a, withTail}, {b, withTail}, {c, thinned}} {
				td, err := s.LoadTrial(w.p.ID)
				if err != nil {
					t.Fatal(err)
				}
				var got []int
				for _, p := range td.BatchLoss {
					got = append(got, p.Iteration)
					if want := 1 / float64(p.Iteration); p.Iteration < n && p.Loss != want {
						t.Errorf("every %d: iteration %d loss %v, want %v", every, p.Iteration, p.Loss, want)
					}
				}
				if !slices.Equal(got, w.want) {
					t.Errorf("every %d, exploding %v, trial %d: stored iterations %v, want %v", every, exploding, w.p.Index, got, w.want)
				}
				var rows int
				if err := s.r.QueryRow(`SELECT count(*) FROM batch_loss WHERE trial = ?`, w.p.ID).Scan(&rows); err != nil || rows != len(w.want) {
					t.Errorf("every %d: the batch_loss view has %d rows (%v), want %d", every, rows, err, len(w.want))
				}
			}
			s.Close()
		}
	}
}
