package framework

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/gradsweep/gradsweep/framework/mat"
)

// LayerSpec names a registered layer and its options, as written in an
// experiment file: {type: dense, units: 16, init: he}.
type LayerSpec struct {
	Type    string
	Options map[string]any
}

// Model is a sequential stack of layers, PyTorch's nn.Sequential: layer i's
// parameters are named "i.weight" and "i.bias", counting every layer,
// activations included.
type Model struct {
	Layers []Layer
	Specs  []LayerSpec
	In     int // input width
	Out    int // output width
	params []*Param
}

// LayerError is an error of one layer of a model: its type or options (the
// registry refused it), its initialisation or its size. It reads "model
// layer 1: unknown layer ..." or, once the layer is built, "model layer 0
// (dense): ...". Callers find the layer with errors.As, never by reading
// the message.
type LayerError struct {
	Index int    // the layer's position in the model, from 0
	Type  string // the layer's type; "" when the registry refused it (its error names the type)
	Err   error
}

func (e *LayerError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("model layer %d: %v", e.Index, e.Err)
	}
	return fmt.Sprintf("model layer %d (%s): %v", e.Index, e.Type, e.Err)
}

func (e *LayerError) Unwrap() error { return e.Err }

// NewModel builds and initialises the layers in order for inputs of width
// in, drawing initial weights from rng. An error of one layer is a
// *LayerError.
func NewModel(reg *Registry[Layer], specs []LayerSpec, in int, rng *rand.Rand) (*Model, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("model has no layers")
	}
	m := &Model{Specs: specs, In: in}
	width := in
	for i, s := range specs {
		l, err := reg.New(s.Type, s.Options)
		if err != nil {
			return nil, &LayerError{Index: i, Err: err}
		}
		if width, err = l.Init(width, rng); err != nil {
			return nil, &LayerError{Index: i, Type: s.Type, Err: err}
		}
		for _, p := range l.Params() {
			p.Name = strconv.Itoa(i) + "." + p.Name
			m.params = append(m.params, p)
		}
		m.Layers = append(m.Layers, l)
	}
	m.Out = width
	return m, nil
}

// Params returns every trainable parameter, in layer order.
func (m *Model) Params() []*Param { return m.params }

// Forward runs the batch x through every layer.
func (m *Model) Forward(x *mat.Matrix, training bool) *mat.Matrix {
	for _, l := range m.Layers {
		x = l.Forward(x, training)
	}
	return x
}

// Backward propagates dL/d(output) back through the layers (the chain rule,
// outermost derivative first), accumulating parameter gradients.
func (m *Model) Backward(dy *mat.Matrix) {
	for i := len(m.Layers) - 1; i >= 0; i-- {
		dy = m.Layers[i].Backward(dy, i > 0)
	}
}

// NumParams is the number of trainable scalars.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.params {
		n += len(p.Value)
	}
	return n
}

// Tensor is a named weight as stored in a checkpoint.
type Tensor struct {
	Shape []int
	Data  []float32
}

// StateDict returns a copy of every parameter by its PyTorch name.
func (m *Model) StateDict() map[string]Tensor {
	out := make(map[string]Tensor, len(m.params))
	for _, p := range m.params {
		out[p.Name] = Tensor{Shape: append([]int(nil), p.Shape...), Data: append([]float32(nil), p.Value...)}
	}
	return out
}

// LoadStateDict copies weights into the model. Every parameter must be
// present with its exact shape, and no extra tensor is accepted, so a
// checkpoint of another architecture is refused rather than half-loaded.
func (m *Model) LoadStateDict(sd map[string]Tensor) error {
	for _, p := range m.params {
		t, ok := sd[p.Name]
		if !ok {
			return fmt.Errorf("weights: tensor %q missing", p.Name)
		}
		if fmt.Sprint(t.Shape) != fmt.Sprint(p.Shape) || len(t.Data) != len(p.Value) {
			return fmt.Errorf("weights: tensor %q has shape %v, model needs %v", p.Name, t.Shape, p.Shape)
		}
	}
	if len(sd) != len(m.params) {
		for name := range sd {
			found := false
			for _, p := range m.params {
				found = found || p.Name == name
			}
			if !found {
				return fmt.Errorf("weights: tensor %q does not belong to this model", name)
			}
		}
	}
	for _, p := range m.params {
		copy(p.Value, sd[p.Name].Data)
	}
	return nil
}
