package functions

import (
	"math"

	"github.com/gradsweep/gradsweep/framework"
)

// Rastrigin is a bowl covered in regular local minima (A = 10):
//
//	f(x, y) = 2A + x² − A·cos(2πx) + y² − A·cos(2πy)
//	∂f/∂x = 2x + 2πA·sin(2πx)   (and likewise in y)
//
// global minimum 0 at (0, 0), a local minimum near every integer point.
type Rastrigin struct{}

var _ = add(framework.Plugin[framework.Function]{Name: "rastrigin", Doc: "20 + x² − 10cos(2πx) + y² − 10cos(2πy)",
	New: func() framework.Function { return &Rastrigin{} }})

// Eval returns f and ∇f.
func (Rastrigin) Eval(x, y float64) (f, dx, dy float64) {
	const a = 10
	w := 2 * math.Pi
	f = 2*a + x*x - a*math.Cos(w*x) + y*y - a*math.Cos(w*y)
	return f, 2*x + w*a*math.Sin(w*x), 2*y + w*a*math.Sin(w*y)
}
