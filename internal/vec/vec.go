// Package vec holds the element-wise float32 kernels of the optimizers (and,
// in activation.go, of the activation layers and losses, and in reduce.go
// the float64 sums of squares of the layer statistics): one
// fused pass over the slices per step (each array read once, written once),
// with AVX-512 (16 lanes) and AVX2 (8 lanes) assembly chosen at run time on
// amd64 and the portable Go in portable.go everywhere else.
//
// Every implementation gives bit-identical results: each kernel's doc comment
// states, element by element, the float32 expression it computes, and every
// operation in it is rounded to float32 in the order written, with no fused
// multiply-add: a·b + c·d is (a·b) + (c·d), a·b·c is (a·b)·c, a·b/c is
// (a·b)/c, and √x is the correctly rounded float32 square root (equal to
// float32(math.Sqrt(float64(x)))). These are exactly the roundings of the
// scalar Go expressions the optimizers used before (Go on amd64 does not fuse
// at GOAMD64=v1), so the kernels changed no result. Only the bits of a NaN
// result (its payload) may differ between implementations.
//
// Conventions: n = len(theta); every other slice a kernel reads must hold
// at least n elements (it panics otherwise) and only its first n are used. Slices need no alignment and n need not be a multiple of
// the vector width. In the formulas g is the gradient with L2 weight decay
// folded in, as torch.optim does:
//
//	g = grad[i]               if wd == 0
//	g = grad[i] + wd·θ[i]     otherwise
//
// (with θ[i] the value on entry, or after Adam's decoupled decay).
package vec

// SGD is plain gradient descent with the negated learning rate nlr = −γ:
//
//	θ[i] = θ[i] + nlr·g
func SGD(theta, grad []float32, nlr, wd float32) {
	n := len(theta)
	need(n, len(grad))
	if n == 0 {
		return
	}
	cur.sgd(theta, grad[:n], nlr, wd)
}

// MomentumParams are the coefficients of Momentum.
type MomentumParams struct {
	NegLR    float32 // −γ
	Mu       float32 // μ, the momentum
	Damp     float32 // 1 − τ (τ the dampening)
	WD       float32 // L2 weight decay λ
	First    bool    // the velocity's first step: b = g
	Nesterov bool    // step along g + μ·b
}

// Momentum is the heavy-ball and Nesterov update of torch.optim.SGD with
// velocity b:
//
//	b[i] = g                       if First
//	b[i] = Mu·b[i] + Damp·g        otherwise
//	θ[i] = θ[i] + NegLR·(g + Mu·b[i])   if Nesterov (b[i] the new value)
//	θ[i] = θ[i] + NegLR·b[i]            otherwise
func Momentum(theta, grad, b []float32, p MomentumParams) {
	n := len(theta)
	need(n, len(grad), len(b))
	if n == 0 {
		return
	}
	cur.momentum(theta, grad[:n], b[:n], p)
}

// AdamParams are the coefficients of Adam.
type AdamParams struct {
	B1, C1   float32 // β₁ and 1 − β₁
	B2, C2   float32 // β₂ and 1 − β₂
	BC2Sqrt  float32 // √(1 − β₂ᵗ)
	Eps      float32 // ε
	StepSize float32 // γ / (1 − β₁ᵗ)
	WD       float32 // L2 weight decay folded into g (Adam)
	Keep     float32 // decoupled decay factor 1 − γλ (AdamW); 1 for none
	AMSGrad  bool    // use the running maximum vmax of v
}

// Adam is the update of torch.optim.Adam and AdamW:
//
//	θ[i] = θ[i]·Keep               (skipped when Keep == 1)
//	m[i] = B1·m[i] + C1·g
//	v[i] = B2·v[i] + C2·g·g
//	u    = v[i]                    or, with AMSGrad,
//	u    = vmax[i] = max(vmax[i], v[i])   (Go's max)
//	θ[i] = θ[i] − StepSize·m[i] / (√u / BC2Sqrt + Eps)
//
// vmax is used (and may be nil otherwise) only with AMSGrad.
func Adam(theta, grad, m, v, vmax []float32, p AdamParams) {
	n := len(theta)
	need(n, len(grad), len(m), len(v))
	if p.AMSGrad {
		need(n, len(vmax))
		vmax = vmax[:n]
	}
	if n == 0 {
		return
	}
	cur.adam(theta, grad[:n], m[:n], v[:n], vmax, p)
}

// NAdamParams are the coefficients of NAdam.
type NAdamParams struct {
	B1, C1 float32 // β₁ and 1 − β₁
	B2, C2 float32 // β₂ and 1 − β₂
	BC2    float32 // 1 − β₂ᵗ
	Eps    float32 // ε
	CG     float32 // γ(1 − μₜ)/(1 − Π_{i≤t} μᵢ), the gradient's weight
	CM     float32 // γμₜ₊₁/(1 − Π_{i≤t+1} μᵢ), the momentum's weight
	WD     float32 // L2 weight decay
}

// NAdam is the update of torch.optim.NAdam:
//
//	m[i] = B1·m[i] + C1·g
//	v[i] = B2·v[i] + C2·g·g
//	d    = √(v[i] / BC2) + Eps
//	θ[i] = θ[i] − CG·g / d
//	θ[i] = θ[i] − CM·m[i] / d      (two roundings of θ, in this order)
func NAdam(theta, grad, m, v []float32, p NAdamParams) {
	n := len(theta)
	need(n, len(grad), len(m), len(v))
	if n == 0 {
		return
	}
	cur.nadam(theta, grad[:n], m[:n], v[:n], p)
}

// RMSpropParams are the coefficients of RMSprop.
type RMSpropParams struct {
	Alpha, CAlpha float32 // α and 1 − α
	Eps           float32 // ε
	Mu            float32 // momentum μ; the velocity b is used when Mu > 0
	LR            float32 // γ
	WD            float32 // L2 weight decay
	Centered      bool    // subtract the squared mean gradient gAvg²
}

// RMSprop is the update of torch.optim.RMSprop:
//
//	v[i]    = Alpha·v[i] + CAlpha·g·g
//	ṽ       = v[i]                           or, when Centered,
//	gAvg[i] = Alpha·gAvg[i] + CAlpha·g,  ṽ = v[i] − gAvg[i]·gAvg[i]
//	d       = √ṽ + Eps
//	b[i]    = Mu·b[i] + g/d,  θ[i] = θ[i] − LR·b[i]    if Mu > 0
//	θ[i]    = θ[i] − LR·g / d                         otherwise
//
// gAvg is used only when Centered and b only when Mu > 0 (either may be nil
// otherwise).
func RMSprop(theta, grad, v, gAvg, b []float32, p RMSpropParams) {
	n := len(theta)
	need(n, len(grad), len(v))
	if p.Centered {
		need(n, len(gAvg))
		gAvg = gAvg[:n]
	}
	if p.Mu > 0 {
		need(n, len(b))
		b = b[:n]
	}
	if n == 0 {
		return
	}
	cur.rmsprop(theta, grad[:n], v[:n], gAvg, b, p)
}

// AdagradParams are the coefficients of Adagrad.
type AdagradParams struct {
	CLR float32 // the decayed learning rate γ/(1 + (t − 1)η)
	Eps float32 // ε
	WD  float32 // L2 weight decay
}

// Adagrad is the update of torch.optim.Adagrad with squared-gradient sum s:
//
//	s[i] = s[i] + g·g
//	θ[i] = θ[i] − CLR·g / (√s[i] + Eps)
func Adagrad(theta, grad, sum []float32, p AdagradParams) {
	n := len(theta)
	need(n, len(grad), len(sum))
	if n == 0 {
		return
	}
	cur.adagrad(theta, grad[:n], sum[:n], p)
}

// AdadeltaParams are the coefficients of Adadelta.
type AdadeltaParams struct {
	Rho, CRho float32 // ρ and 1 − ρ
	Eps       float32 // ε
	LR        float32 // γ
	WD        float32 // L2 weight decay
}

// Adadelta is the update of torch.optim.Adadelta with running averages v
// (squared gradients) and u (squared steps):
//
//	v[i] = Rho·v[i] + CRho·g·g
//	d    = √(u[i] + Eps) / √(v[i] + Eps) · g
//	u[i] = Rho·u[i] + CRho·d·d
//	θ[i] = θ[i] − LR·d
func Adadelta(theta, grad, v, u []float32, p AdadeltaParams) {
	n := len(theta)
	need(n, len(grad), len(v), len(u))
	if n == 0 {
		return
	}
	cur.adadelta(theta, grad[:n], v[:n], u[:n], p)
}

// impl is one implementation of every kernel. Its functions get slices of
// equal length n ≥ 1 (optional ones nil or of length n).
type impl struct {
	name     string
	sgd      func(theta, grad []float32, nlr, wd float32)
	momentum func(theta, grad, b []float32, p MomentumParams)
	adam     func(theta, grad, m, v, vmax []float32, p AdamParams)
	nadam    func(theta, grad, m, v []float32, p NAdamParams)
	rmsprop  func(theta, grad, v, gAvg, b []float32, p RMSpropParams)
	adagrad  func(theta, grad, sum []float32, p AdagradParams)
	adadelta func(theta, grad, v, u []float32, p AdadeltaParams)
	// act holds the activation kernels, indexed by actKernel; they get n ≥ 1
	// and slices of at least n elements (nil where unused).
	act [numAct]func(n int, a, b, c []float32, s float32)
	// sumSq, sumSqDist and deadColumns are the reductions of reduce.go;
	// they get slices of equal length n ≥ 1, or a matrix of rows·cols ≥ 1
	// elements.
	sumSq       func(x []float32) float64
	sumSqDist   func(w, v []float32) (ww, dd float64)
	deadColumns func(z []float32, rows, cols int, lo, hi float32) int
}

// cur is the implementation in use; init in vec_amd64.go replaces it with
// the widest the CPU supports.
var cur = portable

// need panics unless every length is at least n.
func need(n int, lens ...int) {
	for _, l := range lens {
		if l < n {
			panic("vec: slice shorter than theta")
		}
	}
}
