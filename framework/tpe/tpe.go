// Package tpe proposes settings by the Tree-structured Parzen Estimator
// (TPE) of Bergstra, Bardenet, Bengio and Kégl, "Algorithms for
// Hyper-Parameter Optimization" (NeurIPS 2011), with the defaults of
// Optuna's TPESampler (optuna/samplers/_tpe, univariate mode):
//
//   - the finished settings are split into the best gamma(n) = min(⌈0.1·n⌉,
//     25) ("below", density l) and the others ("above", density g);
//   - each density is a Parzen estimator: one kernel per setting plus a
//     prior kernel of weight 1.0, the settings weighted by Optuna's
//     default_weights (1 each for fewer than 25 settings; otherwise the
//     oldest n−25 on a ramp from 1/n to 1, in trial order);
//   - a numeric parameter (on the log scale for a log-uniform one; an
//     integer one on [low−½, high+½], rounded) gets truncated Gaussian
//     kernels: the prior at the middle of the range with σ = high−low, each
//     setting's σ the larger distance to its sorted neighbours (the ends
//     of the range count as neighbours, except for the outermost kernels,
//     consider_endpoints=False), clipped to [range/min(100, 1+kernels),
//     range] ("magic clipping", Bergstra et al.'s hyperopt);
//   - a categorical parameter gets one categorical kernel per setting,
//     mass 1 on its choice plus prior_weight/(n+1) on every choice,
//     normalised, and a uniform prior kernel;
//   - each parameter is proposed on its own (univariate TPE): 24 candidates
//     (n_ei_candidates) are drawn from l, and the one maximising
//     log l(x) − log g(x), the expected-improvement criterion, is taken.
//
// Everything is a function of its inputs and the given random source, so
// the same finished settings and seed give the same proposal bit for bit.
package tpe

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Kind is a parameter's distribution.
type Kind int

// The distributions a parameter may have (random search's in the
// experiment file).
const (
	Uniform    Kind = iota // a float on [Low, High]
	LogUniform             // a float on [Low, High], Low > 0, uniform on the log scale
	IntUniform             // an integer from Low to High
	Choice                 // one of Choices categories, numbered from 0
)

// Param is one parameter of the search space.
type Param struct {
	Kind      Kind
	Low, High float64 // Uniform, LogUniform, IntUniform
	Choices   int     // Choice: the number of categories
}

// Optuna's defaults.
const (
	// PriorWeight is the weight of the prior kernel in each estimator.
	PriorWeight = 1.0
	// Candidates is how many candidates are drawn from l per parameter
	// (n_ei_candidates).
	Candidates = 24
)

// Gamma is how many of n finished settings are "below" (the good ones):
// min(⌈0.1·n⌉, 25).
func Gamma(n int) int { return min((n+9)/10, 25) }

// weights is Optuna's default_weights for n settings in trial order.
func weights(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	if n < 25 {
		return w
	}
	ramp := n - 25 // linspace(1/n, 1, ramp)
	for i := 0; i < ramp; i++ {
		if ramp == 1 {
			w[i] = 1 / float64(n)
		} else {
			w[i] = 1/float64(n) + float64(i)*(1-1/float64(n))/float64(ramp-1)
		}
	}
	return w
}

// Propose returns a new setting of space: one value per parameter (the
// number, or the category's index for Choice). obs are the finished
// settings in trial order, each with a value per parameter; ranked lists
// indices of obs from the best to the worst (every one of them once).
// With no settings, it samples the prior. rng is the only randomness.
func Propose(space []Param, obs [][]float64, ranked []int, rng *rand.Rand) []float64 {
	nBelow := Gamma(len(ranked))
	below := slices.Clone(ranked[:nBelow])
	above := slices.Clone(ranked[nBelow:])
	sort.Ints(below) // trial order, for the weights
	sort.Ints(above)
	out := make([]float64, len(space))
	for j, p := range space {
		col := func(idx []int) []float64 {
			v := make([]float64, len(idx))
			for i, k := range idx {
				v[i] = obs[k][j]
			}
			return v
		}
		l, g := newEstimator(p, col(below)), newEstimator(p, col(above))
		best, bestScore := math.NaN(), math.Inf(-1)
		for c := 0; c < Candidates; c++ {
			x := l.sample(rng)
			s := l.logPDF(x) - g.logPDF(x)
			if math.IsNaN(s) {
				s = math.Inf(-1)
			}
			if math.IsNaN(best) || s > bestScore {
				best, bestScore = x, s
			}
		}
		out[j] = p.external(best)
	}
	return out
}

// internal maps a parameter's value to the scale the kernels live on.
func (p Param) internal(v float64) float64 {
	if p.Kind == LogUniform {
		return math.Log(v)
	}
	return v
}

// external maps a sampled value back: exp for log-uniform, rounding and
// clamping for an integer.
func (p Param) external(x float64) float64 {
	switch p.Kind {
	case LogUniform:
		return min(max(math.Exp(x), p.Low), p.High)
	case IntUniform:
		return min(max(math.Round(x), p.Low), p.High)
	}
	return x
}

// bounds are the ends of the kernels' range on the internal scale.
func (p Param) bounds() (lo, hi float64) {
	switch p.Kind {
	case LogUniform:
		return math.Log(p.Low), math.Log(p.High)
	case IntUniform:
		return p.Low - 0.5, p.High + 0.5
	}
	return p.Low, p.High
}

// estimator is a Parzen estimator of one parameter: a weighted mixture of
// truncated Gaussians on [lo, hi], or of categorical distributions.
type estimator struct {
	p      Param
	w      []float64 // mixture weights, summing to 1
	mu, s  []float64 // numeric kernels
	logZ   []float64 // log of each Gaussian's mass on [lo, hi]
	lo, hi float64
	cat    [][]float64 // categorical kernels: a distribution over the choices each
}

func newEstimator(p Param, values []float64) *estimator {
	n := len(values)
	e := &estimator{p: p, w: append(weights(n), PriorWeight)}
	sum := 0.0
	for _, w := range e.w {
		sum += w
	}
	for i := range e.w {
		e.w[i] /= sum
	}
	if p.Kind == Choice {
		for _, v := range values {
			row := make([]float64, p.Choices)
			for c := range row {
				row[c] = PriorWeight / float64(n+1)
			}
			row[int(v)]++
			e.cat = append(e.cat, normalise(row))
		}
		prior := make([]float64, p.Choices)
		for c := range prior {
			prior[c] = 1 / float64(p.Choices)
		}
		e.cat = append(e.cat, prior)
		return e
	}
	e.lo, e.hi = p.bounds()
	width := e.hi - e.lo
	e.mu = make([]float64, n+1)
	for i, v := range values {
		e.mu[i] = p.internal(v)
	}
	e.mu[n] = 0.5 * (e.lo + e.hi)
	e.s = bandwidths(e.mu, e.lo, e.hi)
	e.s[n] = width
	e.logZ = make([]float64, n+1)
	for i := range e.mu {
		e.logZ[i] = math.Log(phi((e.hi-e.mu[i])/e.s[i]) - phi((e.lo-e.mu[i])/e.s[i]))
	}
	return e
}

// bandwidths is Optuna's univariate rule: each kernel's σ is the larger
// distance to its neighbours in sorted order, with lo and hi as the
// outermost neighbours except that the first and last kernels take the
// distance to their inner neighbour (consider_endpoints=False), clipped
// to [width/min(100, 1+kernels), width].
func bandwidths(mus []float64, lo, hi float64) []float64 {
	k := len(mus)
	order := make([]int, k)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return mus[order[a]] < mus[order[b]] })
	ends := make([]float64, k+2)
	ends[0], ends[k+1] = lo, hi
	for i, o := range order {
		ends[i+1] = mus[o]
	}
	sorted := make([]float64, k)
	for i := range sorted {
		sorted[i] = max(ends[i+1]-ends[i], ends[i+2]-ends[i+1])
	}
	if k+2 >= 4 {
		sorted[0] = ends[2] - ends[1]
		sorted[k-1] = ends[k] - ends[k-1]
	}
	width := hi - lo
	minS := width / min(100, 1+float64(k))
	out := make([]float64, k)
	for i, o := range order {
		out[o] = min(max(sorted[i], minS), width)
	}
	return out
}

func normalise(v []float64) []float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	for i := range v {
		v[i] /= s
	}
	return v
}

// pick draws an index by the weights w (summing to 1).
func pick(rng *rand.Rand, w []float64) int {
	u := rng.Float64()
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// sample draws a value on the internal scale.
func (e *estimator) sample(rng *rand.Rand) float64 {
	k := pick(rng, e.w)
	if e.p.Kind == Choice {
		return float64(pick(rng, e.cat[k]))
	}
	// inverse CDF of the kernel truncated to [lo, hi]
	a, b := phi((e.lo-e.mu[k])/e.s[k]), phi((e.hi-e.mu[k])/e.s[k])
	x := e.mu[k] + e.s[k]*phiInv(a+rng.Float64()*(b-a))
	x = min(max(x, e.lo), e.hi)
	if e.p.Kind == IntUniform {
		x = min(max(math.Round(x), e.p.Low), e.p.High)
	}
	return x
}

// logPDF is the log density (log mass for integers and categories) of the
// mixture at x (on the internal scale).
func (e *estimator) logPDF(x float64) float64 {
	if e.p.Kind == Choice {
		p := 0.0
		for k, w := range e.w {
			p += w * e.cat[k][int(x)]
		}
		return math.Log(p)
	}
	terms := make([]float64, len(e.w))
	for k, w := range e.w {
		var lp float64
		if e.p.Kind == IntUniform {
			lp = math.Log(phi((x+0.5-e.mu[k])/e.s[k]) - phi((x-0.5-e.mu[k])/e.s[k]))
		} else {
			z := (x - e.mu[k]) / e.s[k]
			lp = -0.5*z*z - math.Log(e.s[k]) - 0.5*math.Log(2*math.Pi)
		}
		terms[k] = math.Log(w) + lp - e.logZ[k]
	}
	return logSumExp(terms)
}

func logSumExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	if math.IsInf(m, -1) {
		return m
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

// phi is the standard normal CDF.
func phi(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// phiInv is its inverse.
func phiInv(p float64) float64 {
	return -math.Sqrt2 * math.Erfcinv(2*p)
}
