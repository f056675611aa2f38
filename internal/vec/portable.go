package vec

import "math"

// The portable kernels: plain Go loops, the reference that the assembly
// reproduces bit for bit. A product that feeds an addition or subtraction is
// wrapped in float32(…): the Go spec lets a compiler fuse x*y + z into one
// FMA (arm64 and GOAMD64=v3 do), and an explicit conversion forbids that, so
// these loops round every operation on every architecture.

var portable = &impl{
	name:     "portable",
	sgd:      sgdGo,
	momentum: momentumGo,
	adam:     adamGo,
	nadam:    nadamGo,
	rmsprop:  rmspropGo,
	adagrad:  adagradGo,
	adadelta: adadeltaGo,
	act: [numAct]func(n int, a, b, c []float32, s float32){
		actSigmoid: sigmoidGo, actTanh: tanhGo, actExpShift: expShiftGo, actSigmoidGrad: sigmoidGradGo,
		actTanhGrad: tanhGradGo, actLeakyReLU: leakyReluGo, actLeakyReLUGrad: leakyReluGradGo,
	},
	sumSq:       sumSqGo,
	sumSqDist:   sumSqDistGo,
	deadColumns: deadColumnsGo,
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

func sgdGo(theta, grad []float32, nlr, wd float32) {
	grad = grad[:len(theta)]
	if wd == 0 {
		for i, g := range grad {
			theta[i] += float32(nlr * g)
		}
		return
	}
	for i, g := range grad {
		g += float32(wd * theta[i])
		theta[i] += float32(nlr * g)
	}
}

func momentumGo(theta, grad, b []float32, p MomentumParams) {
	grad, b = grad[:len(theta)], b[:len(theta)]
	for i, g := range grad {
		if p.WD != 0 {
			g += float32(p.WD * theta[i])
		}
		if p.First {
			b[i] = g
		} else {
			b[i] = float32(p.Mu*b[i]) + float32(p.Damp*g)
		}
		if p.Nesterov {
			theta[i] += float32(p.NegLR * (g + float32(p.Mu*b[i])))
		} else {
			theta[i] += float32(p.NegLR * b[i])
		}
	}
}

func adamGo(theta, grad, m, v, vmax []float32, p AdamParams) {
	n := len(theta)
	grad, m, v = grad[:n], m[:n], v[:n]
	if p.AMSGrad {
		vmax = vmax[:n]
	}
	for i, g := range grad {
		th := theta[i]
		if p.Keep != 1 {
			th *= p.Keep
		}
		if p.WD != 0 {
			g += float32(p.WD * th)
		}
		m[i] = float32(p.B1*m[i]) + float32(p.C1*g)
		v[i] = float32(p.B2*v[i]) + float32(p.C2*g*g)
		u := v[i]
		if p.AMSGrad {
			vmax[i] = max(vmax[i], u)
			u = vmax[i]
		}
		theta[i] = th - p.StepSize*m[i]/(sqrt32(u)/p.BC2Sqrt+p.Eps)
	}
}

func nadamGo(theta, grad, m, v []float32, p NAdamParams) {
	n := len(theta)
	grad, m, v = grad[:n], m[:n], v[:n]
	for i, g := range grad {
		if p.WD != 0 {
			g += float32(p.WD * theta[i])
		}
		m[i] = float32(p.B1*m[i]) + float32(p.C1*g)
		v[i] = float32(p.B2*v[i]) + float32(p.C2*g*g)
		d := sqrt32(v[i]/p.BC2) + p.Eps
		th := theta[i] - p.CG*g/d
		theta[i] = th - p.CM*m[i]/d
	}
}

func rmspropGo(theta, grad, v, gAvg, b []float32, p RMSpropParams) {
	n := len(theta)
	grad, v = grad[:n], v[:n]
	for i, g := range grad {
		if p.WD != 0 {
			g += float32(p.WD * theta[i])
		}
		v[i] = float32(p.Alpha*v[i]) + float32(p.CAlpha*g*g)
		vt := v[i]
		if p.Centered {
			gAvg[i] = float32(p.Alpha*gAvg[i]) + float32(p.CAlpha*g)
			vt -= float32(gAvg[i] * gAvg[i])
		}
		d := sqrt32(vt) + p.Eps
		if p.Mu > 0 {
			b[i] = float32(p.Mu*b[i]) + g/d
			theta[i] -= float32(p.LR * b[i])
		} else {
			theta[i] -= p.LR * g / d
		}
	}
}

func adagradGo(theta, grad, sum []float32, p AdagradParams) {
	n := len(theta)
	grad, sum = grad[:n], sum[:n]
	for i, g := range grad {
		if p.WD != 0 {
			g += float32(p.WD * theta[i])
		}
		sum[i] += float32(g * g)
		theta[i] -= p.CLR * g / (sqrt32(sum[i]) + p.Eps)
	}
}

func adadeltaGo(theta, grad, v, u []float32, p AdadeltaParams) {
	n := len(theta)
	grad, v, u = grad[:n], v[:n], u[:n]
	for i, g := range grad {
		if p.WD != 0 {
			g += float32(p.WD * theta[i])
		}
		v[i] = float32(p.Rho*v[i]) + float32(p.CRho*g*g)
		d := sqrt32(u[i]+p.Eps) / sqrt32(v[i]+p.Eps) * g
		u[i] = float32(p.Rho*u[i]) + float32(p.CRho*d*d)
		theta[i] -= float32(p.LR * d)
	}
}
