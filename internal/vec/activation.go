package vec

// The activation kernels: element-wise maps of neural-network layers over
// float32 slices, with the same AVX-512, AVX2 and portable implementations
// as the optimizer kernels, generated from one description each
// (genkernels.go), so every implementation performs the same float32
// operations in the same order and results are bit-identical whatever the
// CPU (only the payload of a NaN result may differ).
//
// Sigmoid, Tanh and ExpShift are float32 approximations, not the correctly
// rounded functions. Against float64 math rounded to float32 they stay
// within MaxULP (ExpShift: ExpMaxULP) units in the last place, subnormal
// results included, on every input TestActivationAccuracy checks: every
// 1021st float32 bit pattern by default, every 251st when this was written
// (-act-stride 1 checks all 2³²). All three rest on one exponential of a
// non-positive argument: Cephes' expf reduction and polynomial, scaled by
// two exact powers of two. They are exact at ±0 (σ(±0) = 0.5, tanh(±0) =
// ±0), saturate to exactly 0 and 1 (±1 for tanh) at ±Inf and where the true
// value rounds there, and return NaN for NaN.
// The gradient kernels and LeakyReLU compute plain float32 expressions,
// written out in their doc comments, exactly.
//
// In every function n = len(dst); the other slices must hold at least n
// elements (it panics otherwise). dst may be one of the inputs.

// MaxULP is the accuracy bound of Sigmoid and Tanh, in float32 units in
// the last place against the float64 functions rounded to float32.
const MaxULP = 2

// ExpMaxULP is the accuracy bound of ExpShift.
const ExpMaxULP = 1

type actKernel int

const (
	actSigmoid actKernel = iota
	actTanh
	actExpShift
	actSigmoidGrad
	actTanhGrad
	actLeakyReLU
	actLeakyReLUGrad
	numAct
)

func runAct(k actKernel, n int, a, b, c []float32, s float32) {
	if n == 0 {
		return
	}
	cur.act[k](n, a, b, c, s)
}

// Sigmoid sets dst[i] = σ(x[i]) = 1/(1 + e^−x[i]): for x ≥ 0 as 1/(1 + e),
// otherwise e/(1 + e), with e = e^−|x| (so nothing overflows and the small
// tail keeps its relative accuracy).
func Sigmoid(dst, x []float32) {
	n := len(dst)
	need(n, len(x))
	runAct(actSigmoid, n, x[:n], dst, nil, 0)
}

// Tanh sets dst[i] = tanh(x[i]): x + x·z·P(z) with z = x² for |x| < 0.625,
// otherwise ±(1 − e)/(1 + e) with e = e^−2|x|.
func Tanh(dst, x []float32) {
	n := len(dst)
	need(n, len(x))
	runAct(actTanh, n, x[:n], dst, nil, 0)
}

// ExpShift sets dst[i] = e^(x[i] − shift), for x[i] − shift ≤ 0, as
// softmax needs it with shift the maximum of x (a positive x[i] − shift
// gives no meaningful value). It is the exponential inside Sigmoid and
// Tanh, within ExpMaxULP of the exact value, subnormal results included.
func ExpShift(dst, x []float32, shift float32) {
	n := len(dst)
	need(n, len(x))
	runAct(actExpShift, n, x[:n], dst, nil, shift)
}

// SigmoidGrad is the backward pass of Sigmoid from its output y:
//
//	dx[i] = dy[i]·(y[i]·(1 − y[i]))
func SigmoidGrad(dx, dy, y []float32) {
	n := len(dx)
	need(n, len(dy), len(y))
	runAct(actSigmoidGrad, n, dy[:n], y[:n], dx, 0)
}

// TanhGrad is the backward pass of Tanh from its output y:
//
//	dx[i] = dy[i]·(1 − y[i]·y[i])
func TanhGrad(dx, dy, y []float32) {
	n := len(dx)
	need(n, len(dy), len(y))
	runAct(actTanhGrad, n, dy[:n], y[:n], dx, 0)
}

// LeakyReLU sets dst[i] = x[i] if x[i] > 0, else slope·x[i] (so NaN stays
// NaN).
func LeakyReLU(dst, x []float32, slope float32) {
	n := len(dst)
	need(n, len(x))
	runAct(actLeakyReLU, n, x[:n], dst, nil, slope)
}

// LeakyReLUGrad is the backward pass of LeakyReLU from its input x:
//
//	dx[i] = dy[i]·(1 if x[i] > 0, else slope)
func LeakyReLUGrad(dx, dy, x []float32, slope float32) {
	n := len(dx)
	need(n, len(dy), len(x))
	runAct(actLeakyReLUGrad, n, dy[:n], x[:n], dx, slope)
}
