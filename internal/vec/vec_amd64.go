//go:build amd64 && !purego

package vec

//go:generate go run genkernels.go

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// archImpls are the assembly implementations this CPU runs, widest first.
var archImpls []*impl

func init() {
	if cpu.X86.HasAVX512F {
		archImpls = append(archImpls, avx512Set.impl())
	}
	if cpu.X86.HasAVX2 {
		archImpls = append(archImpls, avx2Set.impl())
	}
	if len(archImpls) > 0 {
		cur = archImpls[0]
	}
}

func ptr(s []float32) *float32 { return unsafe.SliceData(s) }

// flags packs variant flags into a table index, bit i for flag i.
func flags(on ...bool) int {
	f := 0
	for i, b := range on {
		if b {
			f |= 1 << i
		}
	}
	return f
}

// impl wraps an instruction set's kernels, picking each call's variant (the
// flag letters of kernels_amd64.go's asmSet) from its coefficients.
func (s *asmSet) impl() *impl {
	r := reduceSets[s.name]
	return &impl{
		name: s.name,
		sgd: func(theta, grad []float32, nlr, wd float32) {
			s.sgd[flags(wd != 0)](len(theta), ptr(theta), ptr(grad), nlr, wd)
		},
		momentum: func(theta, grad, b []float32, p MomentumParams) {
			s.momentum[flags(p.WD != 0, p.First, p.Nesterov)](len(theta), ptr(theta), ptr(grad), ptr(b),
				p.NegLR, p.Mu, p.Damp, p.WD)
		},
		adam: func(theta, grad, m, v, vmax []float32, p AdamParams) {
			s.adam[flags(p.WD != 0, p.Keep != 1, p.AMSGrad)](len(theta), ptr(theta), ptr(grad), ptr(m), ptr(v), ptr(vmax),
				p.B1, p.C1, p.B2, p.C2, p.BC2Sqrt, p.Eps, p.StepSize, p.WD, p.Keep)
		},
		nadam: func(theta, grad, m, v []float32, p NAdamParams) {
			s.nadam[flags(p.WD != 0)](len(theta), ptr(theta), ptr(grad), ptr(m), ptr(v),
				p.B1, p.C1, p.B2, p.C2, p.BC2, p.Eps, p.CG, p.CM, p.WD)
		},
		rmsprop: func(theta, grad, v, gAvg, b []float32, p RMSpropParams) {
			s.rmsprop[flags(p.WD != 0, p.Centered, p.Mu > 0)](len(theta), ptr(theta), ptr(grad), ptr(v), ptr(gAvg), ptr(b),
				p.Alpha, p.CAlpha, p.Eps, p.Mu, p.LR, p.WD)
		},
		adagrad: func(theta, grad, sum []float32, p AdagradParams) {
			s.adagrad[flags(p.WD != 0)](len(theta), ptr(theta), ptr(grad), ptr(sum), p.CLR, p.Eps, p.WD)
		},
		adadelta: func(theta, grad, v, u []float32, p AdadeltaParams) {
			s.adadelta[flags(p.WD != 0)](len(theta), ptr(theta), ptr(grad), ptr(v), ptr(u), p.Rho, p.CRho, p.Eps, p.LR, p.WD)
		},
		act: [numAct]func(n int, a, b, c []float32, sc float32){
			actSigmoid:       asmAct(s.sigmoid[0]),
			actTanh:          asmAct(s.tanh[0]),
			actExpShift:      asmAct(s.expShift[0]),
			actSigmoidGrad:   asmAct(s.sigmoidGrad[0]),
			actTanhGrad:      asmAct(s.tanhGrad[0]),
			actLeakyReLU:     asmAct(s.leakyRelu[0]),
			actLeakyReLUGrad: asmAct(s.leakyReluGrad[0]),
		},
		sumSq: func(x []float32) float64 { return r.sumSq(ptr(x), len(x)) },
		sumSqDist: func(w, v []float32) (float64, float64) {
			return r.sumSqDist(ptr(w), ptr(v), len(w))
		},
		deadColumns: func(z []float32, rows, cols int, lo, hi float32) int {
			return r.deadColumns(ptr(z), rows, cols, lo, hi)
		},
	}
}

// asmAct adapts an assembly activation kernel to slices.
func asmAct(f func(n int, a, b, c *float32, s float32)) func(n int, a, b, c []float32, s float32) {
	return func(n int, a, b, c []float32, s float32) { f(n, ptr(a), ptr(b), ptr(c), s) }
}
