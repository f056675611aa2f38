package framework

import (
	"fmt"
	"strconv"
)

// Sizer is implemented by layers whose output width and parameter count
// depend on their options (dense), so that a model's memory can be
// estimated before anything is allocated. A layer that does not implement
// it is taken to keep its input width and to have no parameters, as the
// activations and dropout do.
type Sizer interface {
	// Size returns the output width and the number of trainable scalars for
	// inputs of width in, allocating nothing (a float64, so that absurd
	// sizes cannot overflow).
	Size(in int) (out int, params float64)
}

// MaxModelBytes bounds the memory one model may need, as estimated by
// EstimateModel. It is a variable only so that tests can lower it.
var MaxModelBytes int64 = 4 << 30

// Bytes per trainable scalar: value and gradient, up to three optimizer
// state values (RMSprop, Adam with amsgrad) and a copy of the best
// weights, float32 each.
const bytesPerParam = 6 * 4

// Bytes per activation value and batch row: a layer's output, the gradient
// of its input and a dropout mask, float32 each.
const bytesPerActivation = 3 * 4

// EstimateModel returns the memory a model of specs needs for inputs of
// width in when trained on batches of batch rows (evaluation uses chunks of
// evalChunk rows): parameters with their gradients and optimizer state,
// plus every layer's activations. It also returns the layer that needs the
// most. Options are checked as NewModel does (an error of one layer is a
// *LayerError), but nothing is allocated.
// The arithmetic is in float64, so absurd sizes cannot overflow.
func EstimateModel(reg *Registry[Layer], specs []LayerSpec, in, batch int) (bytes float64, layer int, err error) {
	rows := float64(max(batch, evalChunk))
	width, most := in, -1.0
	for i, s := range specs {
		l, err := reg.New(s.Type, s.Options)
		if err != nil {
			return 0, 0, &LayerError{Index: i, Err: err}
		}
		var params float64
		if sz, ok := l.(Sizer); ok {
			width, params = sz.Size(width)
		}
		b := params*bytesPerParam + float64(width)*rows*bytesPerActivation
		if b > most {
			most, layer = b, i
		}
		bytes += b
	}
	return bytes, layer, nil
}

// CheckModelSize refuses a model whose EstimateModel exceeds MaxModelBytes
// with a *LayerError on the layer that needs the most ("model layer 0
// (dense): ...").
func CheckModelSize(reg *Registry[Layer], specs []LayerSpec, in, batch int) error {
	bytes, i, err := EstimateModel(reg, specs, in, batch)
	if err != nil {
		return err
	}
	if bytes > float64(MaxModelBytes) {
		return &LayerError{Index: i, Type: specs[i].Type, Err: fmt.Errorf("the model would need about %s (parameters with gradients and optimizer state, and activations for %d rows at a time); the limit is %s",
			FormatBytes(bytes), max(batch, evalChunk), FormatBytes(float64(MaxModelBytes)))}
	}
	return nil
}

// FormatBytes writes a size in binary units: "512 bytes", "1.5 GiB".
func FormatBytes(n float64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	u := 0
	for n >= 1024 && u < len(units)-1 {
		n /= 1024
		u++
	}
	if u == 0 {
		return strconv.FormatFloat(n, 'f', 0, 64) + " bytes"
	}
	return strconv.FormatFloat(n, 'f', 1, 64) + " " + units[u]
}
