package tpe

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// search runs a batch-synchronous loop on f: startup random settings, then
// batches proposed from every finished one. random = true samples the
// prior throughout (random search).
func search(space []Param, f func([]float64) float64, n, startup, batch int, seed uint64, random bool) [][]float64 {
	var obs [][]float64
	var vals []float64
	for len(obs) < n {
		k := batch
		if len(obs) < startup || random {
			k = 1
		}
		ranked := make([]int, len(obs))
		for i := range ranked {
			ranked[i] = i
		}
		sort.SliceStable(ranked, func(a, b int) bool { return vals[ranked[a]] < vals[ranked[b]] })
		var next [][]float64
		for j := 0; j < k && len(obs)+j < n; j++ {
			rng := rand.New(rand.NewPCG(seed, uint64(len(obs)+j)))
			if len(obs) < startup || random {
				next = append(next, Propose(space, nil, nil, rng))
			} else {
				next = append(next, Propose(space, obs, ranked, rng))
			}
		}
		for _, x := range next {
			obs = append(obs, x)
			vals = append(vals, f(x))
		}
	}
	return obs
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// On a 2-D function (log learning rate × momentum, optimum at 10^-2.5,
// 0.8), TPE's later settings lie nearer the optimum, and its best is
// better, than random search's with the same budget, in the median over
// seeds.
func TestTPEConcentratesNearTheOptimum(t *testing.T) {
	space := []Param{{Kind: LogUniform, Low: 1e-5, High: 1}, {Kind: Uniform, Low: 0, High: 1}}
	f := func(x []float64) float64 {
		a := math.Log10(x[0]) + 2.5
		return a*a/4 + (x[1]-0.8)*(x[1]-0.8)
	}
	var tpeBest, rndBest, tpeNear, rndNear []float64
	for seed := uint64(0); seed < 15; seed++ {
		for _, random := range []bool{false, true} {
			obs := search(space, f, 60, 10, 4, seed, random)
			best, near := math.Inf(1), 0.0
			for i, x := range obs {
				best = min(best, f(x))
				if i >= 30 && f(x) < 0.05 {
					near++
				}
			}
			if random {
				rndBest, rndNear = append(rndBest, best), append(rndNear, near)
			} else {
				tpeBest, tpeNear = append(tpeBest, best), append(tpeNear, near)
			}
		}
	}
	t.Logf("median best: tpe %.4g random %.4g; median of the last 30 within 0.05: tpe %v random %v",
		median(tpeBest), median(rndBest), median(tpeNear), median(rndNear))
	if !(median(tpeBest) < median(rndBest)) {
		t.Errorf("TPE's median best %.4g is not below random search's %.4g", median(tpeBest), median(rndBest))
	}
	if !(median(tpeNear) >= 2*median(rndNear)+3) {
		t.Errorf("TPE puts %v of its last 30 settings near the optimum, random %v: no concentration", median(tpeNear), median(rndNear))
	}
}

// Integer and categorical parameters: TPE settles on the good integer and
// the good category far more often than uniform sampling would.
func TestTPEIntegersAndChoices(t *testing.T) {
	space := []Param{{Kind: IntUniform, Low: 0, High: 40}, {Kind: Choice, Choices: 5}}
	f := func(x []float64) float64 {
		v := math.Abs(x[0] - 7)
		if x[1] != 3 {
			v += 10
		}
		return v
	}
	hits, good := 0, 0
	for seed := uint64(0); seed < 5; seed++ {
		obs := search(space, f, 50, 10, 5, seed, false)
		for _, x := range obs[25:] {
			if x[0] != math.Trunc(x[0]) || x[0] < 0 || x[0] > 40 || x[1] != math.Trunc(x[1]) || x[1] < 0 || x[1] > 4 {
				t.Fatalf("proposal %v is outside the space", x)
			}
			if x[1] == 3 {
				hits++
			}
			if math.Abs(x[0]-7) <= 3 {
				good++
			}
		}
	}
	// uniform sampling: 1/5 of 125 is 25 on the category, 7/41 of 125 ≈ 21 near 7
	if hits < 60 || good < 50 {
		t.Errorf("of 125 late TPE settings %d chose the best category and %d were within 3 of the best integer", hits, good)
	}
}

// The same finished settings and seed give the same proposal, bit for bit;
// another seed gives another.
func TestTPESameSeedSameProposals(t *testing.T) {
	space := []Param{{Kind: LogUniform, Low: 1e-4, High: 1}, {Kind: Uniform, Low: -1, High: 1},
		{Kind: IntUniform, Low: 4, High: 64}, {Kind: Choice, Choices: 3}}
	f := func(x []float64) float64 { return math.Abs(math.Log(x[0])+3) + x[1]*x[1] + x[2]/64 + x[3] }
	a := search(space, f, 40, 10, 8, 7, false)
	b := search(space, f, 40, 10, 8, 7, false)
	c := search(space, f, 40, 10, 8, 8, false)
	for i := range a {
		for j := range a[i] {
			if math.Float64bits(a[i][j]) != math.Float64bits(b[i][j]) {
				t.Fatalf("setting %d differs between two runs with one seed: %v vs %v", i, a[i], b[i])
			}
		}
	}
	if slices.Equal(a[39], c[39]) {
		t.Errorf("seeds 7 and 8 propose the same last setting %v", a[39])
	}
}

// The constants are Optuna's.
func TestGammaAndWeights(t *testing.T) {
	for n, want := range map[int]int{0: 0, 1: 1, 10: 1, 11: 2, 100: 10, 245: 25, 1000: 25} {
		if got := Gamma(n); got != want {
			t.Errorf("Gamma(%d) = %d, want %d", n, got, want)
		}
	}
	if w := weights(3); !slices.Equal(w, []float64{1, 1, 1}) {
		t.Errorf("weights(3) = %v", w)
	}
	w := weights(30) // linspace(1/30, 1, 5) then 25 ones
	if math.Abs(w[0]-1.0/30) > 1e-15 || w[4] != 1 || w[5] != 1 || w[2] <= w[1] {
		t.Errorf("weights(30) = %v", w)
	}
}

// The bandwidth rule on a worked example: kernels at 0.2, 0.5 (the prior)
// and 0.9 on [0, 1].
func TestBandwidths(t *testing.T) {
	got := bandwidths([]float64{0.2, 0.9, 0.5}, 0, 1)
	// sorted 0.2, 0.5, 0.9: the ends take their inner distance (0.3, 0.4),
	// the middle the larger of 0.3 and 0.4; the least is 1/min(100, 4).
	want := []float64{0.3, 0.4, 0.4}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("bandwidths = %v, want %v", got, want)
		}
	}
	if got := bandwidths([]float64{0.5, 0.5}, 0, 1); got[0] != 1.0/3 || got[1] != 1.0/3 {
		t.Errorf("equal kernels: %v, want the clip 1/3", got)
	}
}
