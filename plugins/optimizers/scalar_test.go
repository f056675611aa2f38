//go:build amd64 && !amd64.v3

// Go fuses no multiply-add on amd64 below GOAMD64=v3, so here the scalar
// loops below round every operation, as the vec kernels do.

package optimizers_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/plugins/optimizers"
)

// refState is one parameter's state in the scalar reference.
type refState struct {
	a, b, c   []float32
	step      int
	started   bool
	muProduct float32
}

func refGrad(p *framework.Param, i int, wd float32) float32 {
	if wd == 0 {
		return p.Grad[i]
	}
	return p.Grad[i] + wd*p.Value[i]
}

// refStep is the element-wise loop each optimizer ran before the vec
// kernels, verbatim, reading the optimizer's options from o.
func refStep(o framework.Optimizer, states map[string]*refState, params []*framework.Param, lr float64) {
	for _, p := range params {
		st := states[p.Name]
		if st == nil {
			n := len(p.Value)
			st = &refState{a: make([]float32, n), b: make([]float32, n), c: make([]float32, n), muProduct: 1}
			if ag, ok := o.(*optimizers.Adagrad); ok {
				for i := range st.a {
					st.a[i] = float32(ag.InitialAcc)
				}
			}
			states[p.Name] = st
		}
		st.step++
		switch o := o.(type) {
		case *optimizers.SGD:
			wd, nlr := float32(o.WeightDecay), -float32(lr)
			for i := range p.Value {
				p.Value[i] += nlr * refGrad(p, i, wd)
			}
		case *optimizers.Momentum:
			refVelocity(p, st, lr, o.Momentum, o.Dampening, o.WeightDecay, false)
		case *optimizers.Nesterov:
			refVelocity(p, st, lr, o.Momentum, 0, o.WeightDecay, true)
		case *optimizers.Adam:
			refAdam(p, st, lr, o.Beta1, o.Beta2, o.Eps, o.AMSGrad, float32(o.WeightDecay), 0)
		case *optimizers.AdamW:
			refAdam(p, st, lr, o.Beta1, o.Beta2, o.Eps, o.AMSGrad, 0, o.WeightDecay)
		case *optimizers.NAdam:
			b1, b2, eps, wd := float32(o.Beta1), float32(o.Beta2), float32(o.Eps), float32(o.WeightDecay)
			c1, c2 := float32(1-o.Beta1), float32(1-o.Beta2)
			t := float64(st.step)
			mu := o.Beta1 * (1 - 0.5*math.Pow(0.96, t*o.MomentumDecay))
			muNext := o.Beta1 * (1 - 0.5*math.Pow(0.96, (t+1)*o.MomentumDecay))
			st.muProduct *= float32(mu)
			mp := float64(st.muProduct)
			bc2 := float32(1 - math.Pow(o.Beta2, t))
			cg := float32(lr * (1 - mu) / (1 - mp))
			cm := float32(lr * muNext / (1 - mp*muNext))
			for i := range p.Value {
				g := refGrad(p, i, wd)
				st.a[i] = b1*st.a[i] + c1*g
				st.b[i] = b2*st.b[i] + c2*g*g
				denom := float32(math.Sqrt(float64(st.b[i]/bc2))) + eps
				p.Value[i] -= cg * g / denom
				p.Value[i] -= cm * st.a[i] / denom
			}
		case *optimizers.RMSprop:
			a, wd, eps, mu := float32(o.Alpha), float32(o.WeightDecay), float32(o.Eps), float32(o.Momentum)
			ca, glr := float32(1-o.Alpha), float32(lr)
			for i := range p.Value {
				g := refGrad(p, i, wd)
				st.a[i] = a*st.a[i] + ca*g*g
				vt := st.a[i]
				if o.Centered {
					st.b[i] = a*st.b[i] + ca*g
					vt -= st.b[i] * st.b[i]
				}
				denom := float32(math.Sqrt(float64(vt))) + eps
				if mu > 0 {
					st.c[i] = mu*st.c[i] + g/denom
					p.Value[i] -= glr * st.c[i]
				} else {
					p.Value[i] -= glr * g / denom
				}
			}
		case *optimizers.Adagrad:
			wd, eps := float32(o.WeightDecay), float32(o.Eps)
			clr := float32(lr / (1 + float64(st.step-1)*o.LRDecay))
			for i := range p.Value {
				g := refGrad(p, i, wd)
				st.a[i] += g * g
				p.Value[i] -= clr * g / (float32(math.Sqrt(float64(st.a[i]))) + eps)
			}
		case *optimizers.Adadelta:
			rho, wd, eps := float32(o.Rho), float32(o.WeightDecay), float32(o.Eps)
			cr, glr := float32(1-o.Rho), float32(lr)
			for i := range p.Value {
				g := refGrad(p, i, wd)
				st.a[i] = rho*st.a[i] + cr*g*g
				d := float32(math.Sqrt(float64(st.b[i]+eps))) / float32(math.Sqrt(float64(st.a[i]+eps))) * g
				st.b[i] = rho*st.b[i] + cr*d*d
				p.Value[i] -= glr * d
			}
		default:
			panic(fmt.Sprintf("no scalar reference for %T", o))
		}
	}
}

func refVelocity(p *framework.Param, st *refState, lr, momentum, dampening, weightDecay float64, nesterov bool) {
	mu, damp, wd := float32(momentum), float32(1-dampening), float32(weightDecay)
	nlr := -float32(lr)
	b := st.a
	for i := range p.Value {
		g := refGrad(p, i, wd)
		if st.started {
			b[i] = mu*b[i] + damp*g
		} else {
			b[i] = g
		}
		if nesterov {
			p.Value[i] += nlr * (g + mu*b[i])
		} else {
			p.Value[i] += nlr * b[i]
		}
	}
	st.started = true
}

func refAdam(p *framework.Param, st *refState, lr, beta1, beta2, epsilon float64, amsgrad bool, l2 float32, decoupled float64) {
	b1, b2, eps := float32(beta1), float32(beta2), float32(epsilon)
	c1, c2 := float32(1-beta1), float32(1-beta2)
	t := float64(st.step)
	bc1 := 1 - math.Pow(beta1, t)
	bc2Sqrt := float32(math.Sqrt(1 - math.Pow(beta2, t)))
	stepSize := float32(lr / bc1)
	keep := float32(1 - lr*decoupled)
	for i := range p.Value {
		if decoupled != 0 {
			p.Value[i] *= keep
		}
		g := refGrad(p, i, l2)
		st.a[i] = b1*st.a[i] + c1*g
		st.b[i] = b2*st.b[i] + c2*g*g
		v := st.b[i]
		if amsgrad {
			st.c[i] = max(st.c[i], v)
			v = st.c[i]
		}
		denom := float32(math.Sqrt(float64(v)))/bc2Sqrt + eps
		p.Value[i] -= stepSize * st.a[i] / denom
	}
}

// TestSameAsScalarLoops trains two parameters (lengths not multiples of any
// vector width) for 12 steps with every optimizer variant and checks that
// every weight equals, bit for bit, what the scalar loops give.
func TestSameAsScalarLoops(t *testing.T) {
	reg := fresh()
	configs := []struct {
		name string
		opts map[string]any
	}{
		{"sgd", nil}, {"sgd", map[string]any{"weight_decay": 0.01}},
		{"momentum", nil}, {"momentum", map[string]any{"dampening": 0.1, "weight_decay": 0.01}},
		{"nesterov", nil}, {"nesterov", map[string]any{"weight_decay": 0.01}},
		{"adam", nil}, {"adam", map[string]any{"amsgrad": true, "weight_decay": 0.01}},
		{"adamw", nil}, {"adamw", map[string]any{"amsgrad": true}},
		{"nadam", nil}, {"nadam", map[string]any{"weight_decay": 0.01}},
		{"rmsprop", nil}, {"rmsprop", map[string]any{"centered": true}},
		{"rmsprop", map[string]any{"momentum": 0.9}},
		{"rmsprop", map[string]any{"centered": true, "momentum": 0.9, "weight_decay": 0.01}},
		{"adagrad", nil}, {"adagrad", map[string]any{"lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01}},
		{"adadelta", nil}, {"adadelta", map[string]any{"weight_decay": 0.01}},
	}
	covered := map[string]bool{}
	for _, c := range configs {
		covered[c.name] = true
		o, err := reg.New(c.name, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := reg.New(c.name, c.opts) // carries the options only
		r := rand.New(rand.NewPCG(7, uint64(len(covered))))
		mk := func(name string, n int) (*framework.Param, *framework.Param) {
			p := &framework.Param{Name: name, Shape: []int{n}, Value: make([]float32, n), Grad: make([]float32, n)}
			for i := range p.Value {
				p.Value[i] = float32(r.NormFloat64())
			}
			q := &framework.Param{Name: name, Shape: []int{n}, Value: append([]float32(nil), p.Value...), Grad: make([]float32, n)}
			return p, q
		}
		w, w2 := mk("0.weight", 1007)
		bias, bias2 := mk("0.bias", 13)
		states := map[string]*refState{}
		for k := range 12 {
			for _, pair := range [][2]*framework.Param{{w, w2}, {bias, bias2}} {
				for i := range pair[0].Grad {
					g := float32(r.NormFloat64()) * 0.1
					if r.IntN(8) == 0 {
						g = 0 // dead units give exact zeros
					}
					pair[0].Grad[i], pair[1].Grad[i] = g, g
				}
			}
			lr := 0.01 * (1 + 0.1*float64(k)) // changes, as under a schedule
			o.Step([]*framework.Param{w, bias}, lr)
			refStep(ref, states, []*framework.Param{w2, bias2}, lr)
			for _, pair := range [][2]*framework.Param{{w, w2}, {bias, bias2}} {
				for i := range pair[0].Value {
					if math.Float32bits(pair[0].Value[i]) != math.Float32bits(pair[1].Value[i]) {
						t.Fatalf("%s %v step %d %s[%d] = %g, scalar loop %g", c.name, c.opts, k+1, pair[0].Name, i, pair[0].Value[i], pair[1].Value[i])
					}
				}
			}
		}
	}
	for _, name := range reg.Names() {
		if !covered[name] {
			t.Errorf("optimizer %q not compared with its scalar loop", name)
		}
	}
}
