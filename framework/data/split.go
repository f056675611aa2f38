package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// splitStream is the second PCG word of Split's generator.
const splitStream = 0x5851f42d4c957f2d

// Split divides d into a training and a validation set at random,
// deterministically in seed: it draws a Fisher–Yates permutation of the
// samples (math/rand/v2 PCG seeded with seed), gives the first
// round(N·valFraction) of it to val — at least 1 when valFraction > 0 and
// N >= 2, and at most N-1 so that train is never empty — and the rest to
// train, each in permutation order. valFraction must be in [0, 1); with 0,
// val is nil and train is a copy of d in its original order.
//
// Both results are new Datasets with their own matrices and label slices
// (Classes and Features are copied too), so d is left untouched. Names get
// the suffixes "/train" and "/val".
func Split(d *framework.Dataset, valFraction float64, seed uint64) (train, val *framework.Dataset, err error) {
	perm, nVal, err := splitPerm(d, valFraction, seed)
	if err != nil {
		return nil, nil, err
	}
	train = subset(d, perm[nVal:], "/train")
	if nVal > 0 {
		val = subset(d, perm[:nVal], "/val")
	}
	return train, val, nil
}

// SplitInPlace splits d as Split does, into the same samples in the same
// order, without a second copy of the data: it reorders d's rows in place
// (validation samples first) and returns train and val as views of them.
// d is consumed: use train and val, not d, afterwards. A data set of N
// samples thus costs its own size once, however it is split.
func SplitInPlace(d *framework.Dataset, valFraction float64, seed uint64) (train, val *framework.Dataset, err error) {
	perm, nVal, err := splitPerm(d, valFraction, seed)
	if err != nil {
		return nil, nil, err
	}
	permuteRows(d, perm)
	train = rowsOf(d, nVal, d.Len(), "/train")
	if nVal > 0 {
		val = rowsOf(d, 0, nVal, "/val")
	}
	return train, val, nil
}

// splitPerm is Split's permutation of d's samples and the size of the
// validation set (its first nVal).
func splitPerm(d *framework.Dataset, valFraction float64, seed uint64) (perm []int, nVal int, err error) {
	if d == nil || d.X == nil {
		return nil, 0, fmt.Errorf("data: Split: nil data set")
	}
	if !(valFraction >= 0 && valFraction < 1) {
		return nil, 0, fmt.Errorf("data: Split: validation fraction must be in [0, 1), got %v", valFraction)
	}
	n := d.Len()
	if n == 0 {
		return nil, 0, fmt.Errorf("data: Split: data set %q is empty", d.Name)
	}
	if err := checkConsistent(d); err != nil {
		return nil, 0, fmt.Errorf("data: Split: %w", err)
	}
	perm = make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	if valFraction == 0 {
		return perm, 0, nil
	}
	nVal = int(math.Round(float64(n) * valFraction))
	if n >= 2 {
		nVal = max(nVal, 1)
		nVal = min(nVal, n-1)
	} else {
		nVal = 0 // a single sample stays in train
	}
	rng := rand.New(rand.NewPCG(seed, splitStream))
	for i := n - 1; i > 0; i-- {
		j := rng.IntN(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm, nVal, nil
}

// permuteRows reorders d's rows so that row i becomes the old row perm[i],
// in place, following the permutation's cycles with one spare row.
func permuteRows(d *framework.Dataset, perm []int) {
	done := make([]bool, len(perm))
	rowX := make([]float32, d.X.Cols)
	var rowY []float32
	if d.Y != nil {
		rowY = make([]float32, d.Y.Cols)
	}
	for start := range perm {
		if done[start] {
			continue
		}
		// the cycle start ← perm[start] ← perm[perm[start]] ← ...
		copy(rowX, d.X.Row(start))
		if d.Y != nil {
			copy(rowY, d.Y.Row(start))
		}
		var label int32
		if d.Labels != nil {
			label = d.Labels[start]
		}
		i := start
		for {
			done[i] = true
			next := perm[i]
			if next == start {
				copy(d.X.Row(i), rowX)
				if d.Y != nil {
					copy(d.Y.Row(i), rowY)
				}
				if d.Labels != nil {
					d.Labels[i] = label
				}
				break
			}
			copy(d.X.Row(i), d.X.Row(next))
			if d.Y != nil {
				copy(d.Y.Row(i), d.Y.Row(next))
			}
			if d.Labels != nil {
				d.Labels[i] = d.Labels[next]
			}
			i = next
		}
	}
}

// rowsOf is a data set of d's rows [lo, hi), sharing d's storage.
func rowsOf(d *framework.Dataset, lo, hi int, suffix string) *framework.Dataset {
	view := func(m *mat.Matrix) *mat.Matrix {
		return &mat.Matrix{Rows: hi - lo, Cols: m.Cols, Data: m.Data[lo*m.Cols : hi*m.Cols : hi*m.Cols]}
	}
	out := &framework.Dataset{Name: d.Name + suffix, Task: d.Task, X: view(d.X), Classes: d.Classes, Features: d.Features}
	if d.Y != nil {
		out.Y = view(d.Y)
	}
	if d.Labels != nil {
		out.Labels = d.Labels[lo:hi:hi]
	}
	return out
}

// FirstRows keeps only d's first n rows, in a copy of their own, so that
// the rest of the data can be freed.
func FirstRows(d *framework.Dataset, n int) *framework.Dataset {
	idx := make([]int, min(n, d.Len()))
	for i := range idx {
		idx[i] = i
	}
	out := subset(d, idx, "")
	return out
}

func checkConsistent(d *framework.Dataset) error {
	n := d.X.Rows
	if len(d.X.Data) < n*d.X.Cols {
		return fmt.Errorf("data set %q: X has %d values for %d×%d", d.Name, len(d.X.Data), n, d.X.Cols)
	}
	if d.Labels != nil && len(d.Labels) != n {
		return fmt.Errorf("data set %q: %d labels for %d samples", d.Name, len(d.Labels), n)
	}
	if d.Y != nil && (d.Y.Rows != n || len(d.Y.Data) < n*d.Y.Cols) {
		return fmt.Errorf("data set %q: Y has %d rows for %d samples", d.Name, d.Y.Rows, n)
	}
	return nil
}

// subset copies the rows idx of d into a new Dataset.
func subset(d *framework.Dataset, idx []int, suffix string) *framework.Dataset {
	out := &framework.Dataset{
		Name:     d.Name + suffix,
		Task:     d.Task,
		X:        takeRows(d.X, idx),
		Classes:  slices.Clone(d.Classes),
		Features: slices.Clone(d.Features),
	}
	if d.Y != nil {
		out.Y = takeRows(d.Y, idx)
	}
	if d.Labels != nil {
		out.Labels = make([]int32, len(idx))
		for i, k := range idx {
			out.Labels[i] = d.Labels[k]
		}
	}
	return out
}

func takeRows(m *mat.Matrix, idx []int) *mat.Matrix {
	out := mat.New(len(idx), m.Cols)
	for i, k := range idx {
		copy(out.Row(i), m.Row(k))
	}
	return out
}

// Standardizer rescales each feature to zero mean and unit variance:
// x' = (x - Mean[j]) / Std[j]. Fit it on the training split only (never on
// validation or test data, which would leak their statistics into
// training) and apply the same Standardizer to every split and to any
// input given to the trained model.
type Standardizer struct {
	Mean []float64 // per-feature mean
	// Std is the per-feature population standard deviation, or 1 for a
	// constant feature (which is then only centred).
	Std []float64
}

// FitStandardizer computes the per-feature mean and population standard
// deviation of d.X, in float64. Fit on the training split only.
func FitStandardizer(d *framework.Dataset) Standardizer {
	cols := d.X.Cols
	s := Standardizer{Mean: make([]float64, cols), Std: make([]float64, cols)}
	n := d.X.Rows
	if n == 0 {
		for j := range s.Std {
			s.Std[j] = 1
		}
		return s
	}
	for i := range n {
		for j, v := range d.X.Row(i) {
			s.Mean[j] += float64(v)
		}
	}
	for j := range s.Mean {
		s.Mean[j] /= float64(n)
	}
	for i := range n {
		for j, v := range d.X.Row(i) {
			dv := float64(v) - s.Mean[j]
			s.Std[j] += dv * dv
		}
	}
	for j := range s.Std {
		sd := math.Sqrt(s.Std[j] / float64(n))
		if sd == 0 || math.IsNaN(sd) || math.IsInf(sd, 0) {
			sd = 1
		}
		s.Std[j] = sd
	}
	return s
}

// Apply standardises d.X in place. It panics if d has a different number
// of features than the data the Standardizer was fitted on.
func (s Standardizer) Apply(d *framework.Dataset) {
	if d.X.Cols != len(s.Mean) {
		panic(fmt.Sprintf("data: Standardizer fitted on %d features applied to %q with %d", len(s.Mean), d.Name, d.X.Cols))
	}
	for i := range d.X.Rows {
		s.ApplyRow(d.X.Row(i))
	}
}

// ApplyRow standardises one sample's features in place (for inference on
// inputs that are not in a Dataset). It panics on a length mismatch.
func (s Standardizer) ApplyRow(x []float32) {
	if len(x) != len(s.Mean) {
		panic(fmt.Sprintf("data: Standardizer fitted on %d features applied to a row of %d", len(s.Mean), len(x)))
	}
	for j, v := range x {
		x[j] = float32((float64(v) - s.Mean[j]) / s.Std[j])
	}
}
