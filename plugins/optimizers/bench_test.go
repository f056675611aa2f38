package optimizers_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// BenchmarkStep times one step of each optimizer on the parameters of the
// 784-128-64-10 MLP (109,386 floats) with batch-1-like gradients; ns/elem
// is the cost per parameter.
func BenchmarkStep(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	var params []*framework.Param
	total := 0
	for _, n := range []int{784 * 128, 128, 128 * 64, 64, 64 * 10, 10} {
		p := &framework.Param{Name: string(rune('a' + len(params))), Shape: []int{n}, Value: make([]float32, n), Grad: make([]float32, n)}
		for i := range p.Value {
			p.Value[i] = float32(r.NormFloat64()) * 0.05
			p.Grad[i] = float32(r.NormFloat64()) * 0.01
		}
		params = append(params, p)
		total += n
	}
	reg := fresh()
	for _, name := range []string{"sgd", "momentum", "nesterov", "adam", "adamw", "nadam", "rmsprop", "adagrad", "adadelta"} {
		b.Run(name, func(b *testing.B) {
			o, _ := reg.New(name, nil)
			o.Step(params, 1e-6) // state created
			for b.Loop() {
				o.Step(params, 1e-6)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(total), "ns/elem")
		})
	}
}
