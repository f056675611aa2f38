package framework

import (
	"math/rand/v2"

	"github.com/gradsweep/gradsweep/framework/mat"
)

// Param is one trainable tensor: a weight matrix or a bias vector. Value
// and Grad have the same length; Shape follows PyTorch (a dense weight is
// [out, in]). Name is the PyTorch nn.Sequential state_dict name ("0.weight",
// "0.bias", "2.weight", ...), assigned by the Model; optimizers key their
// per-parameter state by it.
type Param struct {
	Name  string
	Shape []int
	Value []float32
	Grad  []float32
}

// Layer is one step of a sequential model.
//
// A layer owns the matrices it returns and reuses them from batch to batch,
// so a training step allocates nothing once shapes are stable; the caller
// must not keep them past the next call. Forward may keep a reference to x
// for Backward, and must not modify x: the trainer hands consecutive
// samples to the first layer as a view of the dataset's rows.
type Layer interface {
	// Init prepares the layer for inputs of width in and returns its output
	// width. Weights are drawn from rng, so a model is reproducible from a seed.
	Init(in int, rng *rand.Rand) (out int, err error)
	// Forward computes the layer's output for a batch (one sample per row).
	// training is false for evaluation (dropout is then the identity).
	Forward(x *mat.Matrix, training bool) *mat.Matrix
	// Backward takes dL/d(output) of the last Forward, stores dL/d(param)
	// in each parameter's Grad (overwriting it: a parameter belongs to one
	// layer and is used once per forward pass, so no zeroing pass is needed)
	// and returns dL/d(input) when wantInputGrad is true (the first layer of
	// a model skips it).
	Backward(dy *mat.Matrix, wantInputGrad bool) *mat.Matrix
	// Params returns the layer's trainable parameters (nil if none), with
	// Name set to the local name ("weight", "bias").
	Params() []*Param
}

// Targets are what a batch's predictions are compared with: class indices
// for classification, real values (one row per sample) for regression.
type Targets struct {
	Labels []int32     // classification
	Values *mat.Matrix // regression
}

// Loss measures predictions against targets.
type Loss interface {
	// Eval returns the loss of the batch (reduced as the loss documents,
	// normally the mean over samples, PyTorch's reduction='mean') and writes
	// dLoss/dPred into grad, which it resizes to pred's shape.
	Eval(pred *mat.Matrix, t Targets, grad *mat.Matrix) float64
	// Check reports whether the loss can compare a model output of width
	// outputs with a data set of the given task whose target width is
	// targets (the number of classes, or of regression columns); the error
	// says why not.
	Check(task Task, outputs, targets int) error
	// Class reads one model output row (one sample's prediction, as Eval
	// sees it) as a class index, for the accuracy metrics: Argmax for a
	// loss on one score per class; for a single output, how the loss reads
	// it as class 0 or 1 (a logit: > 0; a 0/1 target value: > 0.5). It
	// must not allocate: it runs for every sample of every batch.
	Class(row []float32) int32
}

// Argmax is the index of the largest value of row, the first one on ties
// (0 for an empty row or when no value compares larger, e.g. NaN first).
func Argmax(row []float32) int32 {
	if len(row) == 0 {
		return 0
	}
	var k int32
	best := row[0]
	for j, v := range row {
		if v > best {
			best, k = v, int32(j)
		}
	}
	return k
}

// Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step applies one update to every parameter with learning rate lr.
	// State (moments, step counts) is kept per parameter, keyed by name.
	Step(params []*Param, lr float64)
}

// The default registries, filled by the built-in plugin packages' init
// functions (import github.com/gradsweep/gradsweep/plugins for all of them).
var (
	Layers     = NewRegistry[Layer]("layer")
	Losses     = NewRegistry[Loss]("loss")
	Optimizers = NewRegistry[Optimizer]("optimizer")
	Schedules  = NewRegistry[Schedule]("schedule")
)

// Registries bundles one registry of each kind, so tests can use fresh ones.
type Registries struct {
	Layers     *Registry[Layer]
	Losses     *Registry[Loss]
	Optimizers *Registry[Optimizer]
	Schedules  *Registry[Schedule]
}

// Default returns the process-wide registries.
func Default() Registries {
	return Registries{Layers: Layers, Losses: Losses, Optimizers: Optimizers, Schedules: Schedules}
}
