package framework

import (
	"math"

	"github.com/gradsweep/gradsweep/framework/mat"
	"github.com/gradsweep/gradsweep/internal/vec"
)

// LayerStats describe one weighted layer at one weight update: how much
// gradient reached it (the chain rule, measured) and what the update did.
type LayerStats struct {
	Layer        int     // the layer's index in the model, from 0 (PyTorch's "i.weight")
	GradNorm     float64 // ‖∇W‖, the Frobenius norm of the update's weight gradient
	WeightNorm   float64 // ‖W‖ after the update
	UpdateRatio  float64 // ‖ΔW‖/‖W‖: the update's size relative to the weights
	DeadFraction float64 // fraction of the layer's units the next activation leaves dead or saturated (NaN: no such activation)
}

// LayerPoint is a layer's statistics at one weight update, as stored.
type LayerPoint struct {
	Iteration int // the update (1-based)
	LayerStats
}

// WeightedLayer is a layer with a weight matrix whose gradient flow is
// measured (record.layer_stats_every): dense.
type WeightedLayer interface {
	Layer
	// Weight is the weight matrix (its Value and Grad).
	Weight() *Param
	// Output is the layer's output of the last forward pass (the
	// pre-activation of the layer that follows), batch × units.
	Output() *mat.Matrix
}

// InactiveUnits is an activation layer that can leave units inactive: a
// unit of the layer before counts as dead (ReLU) or saturated
// (sigmoid, tanh) in a batch when Inactive holds for its pre-activation
// in every sample of the batch.
type InactiveUnits interface {
	Inactive(z float32) bool
}

// InactiveRange is a region of pre-activations where an activation leaves
// its unit inactive: z ≤ Lo or z > Hi (so never NaN). ReLU's is
// {Lo: 0, Hi: +Inf}; |z| > 2 is {Lo: the float32 below −2, Hi: 2}.
type InactiveRange struct{ Lo, Hi float32 }

// Inactive reports whether z lies in r.
func (r InactiveRange) Inactive(z float32) bool { return z <= r.Lo || z > r.Hi }

// RangeInactive is an InactiveUnits whose Inactive is that of its
// InactiveRange. Measuring then compares the pre-activations with the
// range's bounds in vector instructions (vec.DeadColumns) rather than
// calling Inactive for each.
type RangeInactive interface {
	InactiveUnits
	InactiveRange() InactiveRange
}

// LayerObserver is an Observer that also takes layer statistics: the
// trainer calls Layers after the first update and every
// Trainer.LayerStatsEvery updates after it, with one entry per weighted
// layer, after Iteration for that update. stats is reused: it must not be
// kept past the call.
type LayerObserver interface {
	Observer
	Layers(iteration int, stats []LayerStats)
}

// layerProbe measures the weighted layers of a model: it holds their
// weights from before the update, preallocated, so measuring allocates
// nothing.
type layerProbe struct {
	every  int
	obs    LayerObserver
	layers []WeightedLayer
	next   []InactiveUnits // the activation after each layer, or nil
	before [][]float32     // each layer's weights before the update
	stats  []LayerStats
}

// newLayerProbe prepares the measurement of m's weighted layers every
// `every` updates for obs, or returns nil when there is nothing to do.
func newLayerProbe(m *Model, every int, obs Observer) *layerProbe {
	lo, ok := obs.(LayerObserver)
	if every <= 0 || !ok {
		return nil
	}
	p := &layerProbe{every: every, obs: lo}
	for i, l := range m.Layers {
		w, ok := l.(WeightedLayer)
		if !ok {
			continue
		}
		var act InactiveUnits
		if i+1 < len(m.Layers) {
			act, _ = m.Layers[i+1].(InactiveUnits)
		}
		p.layers = append(p.layers, w)
		p.next = append(p.next, act)
		p.before = append(p.before, make([]float32, len(w.Weight().Value)))
		p.stats = append(p.stats, LayerStats{Layer: i})
	}
	if len(p.layers) == 0 {
		return nil
	}
	return p
}

// due reports whether update number iteration (1-based) is measured: the
// first, and every every-th.
func (p *layerProbe) due(iteration int) bool {
	return p != nil && (iteration == 1 || iteration%p.every == 0)
}

// beforeUpdate measures the gradients and keeps the weights the update
// will change.
func (p *layerProbe) beforeUpdate() {
	for k, l := range p.layers {
		w := l.Weight()
		copy(p.before[k], w.Value)
		s := &p.stats[k]
		s.GradNorm = norm(w.Grad)
		s.DeadFraction = math.NaN()
		if p.next[k] != nil {
			s.DeadFraction = inactiveFraction(l.Output(), p.next[k])
		}
	}
}

// afterUpdate measures the updated weights and tells the observer.
func (p *layerProbe) afterUpdate(iteration int) {
	for k, l := range p.layers {
		ww, dd := vec.SumSquaresDistance(l.Weight().Value, p.before[k])
		s := &p.stats[k]
		s.WeightNorm = math.Sqrt(ww)
		s.UpdateRatio = math.Sqrt(dd) / s.WeightNorm
	}
	p.obs.Layers(iteration, p.stats)
}

// norm is the Euclidean (Frobenius) norm of v, summed in float64 in the
// 16 interleaved partial sums of vec.SumSquares (vectorized, so measuring
// stays a small part of training).
func norm(v []float32) float64 {
	return math.Sqrt(vec.SumSquares(v))
}

// inactiveFraction is the fraction of z's columns (units) for which act
// finds every row (sample) inactive. It scans each column until a sample
// is active: a live unit is usually found so after a sample or two, and a
// dead column's test gives the same answer all the way down, so the
// branches are predicted. For a RangeInactive act vec.DeadColumns does it
// with vector compares, 16 columns at a time.
func inactiveFraction(z *mat.Matrix, act InactiveUnits) float64 {
	if z.Rows == 0 || z.Cols == 0 {
		return math.NaN()
	}
	if ra, ok := act.(RangeInactive); ok {
		r := ra.InactiveRange()
		return float64(vec.DeadColumns(z.Data, z.Rows, z.Cols, r.Lo, r.Hi)) / float64(z.Cols)
	}
	cols := z.Cols
	data := z.Data[:z.Rows*cols]
	dead := 0
	for j := range cols {
		all := true
		for i := j; i < len(data) && all; i += cols {
			all = act.Inactive(data[i])
		}
		if all {
			dead++
		}
	}
	return float64(dead) / float64(cols)
}
