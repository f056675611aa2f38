//go:build ignore

// genkernels writes the amd64 assembly kernels of package vec and their Go
// declarations (kernels_avx512_amd64.s, kernels_avx2_amd64.s and
// kernels_amd64.go). Run it with `go generate` in this directory; the output
// is committed, so ordinary builds need no code generation.
//
// Each kernel is described once, below, as the sequence of float32 vector
// operations of one element's update, written in the order of the Go
// expression it must reproduce bit for bit (see portable.go): every multiply,
// add, subtract, divide and square root is its own rounded instruction (no
// FMA), with the operands in the Go expression's order. The generator
// allocates registers, then emits for each instruction set (AVX-512, 16-float
// ZMM vectors; AVX2, 8-float YMM vectors):
//
//   - a main loop of two vectors per iteration,
//   - a one-vector loop for a remaining full vector,
//   - a masked tail for the last n mod lanes elements (AVX-512 opmask K1,
//     AVX2 VMASKMOVPS with mask Y15), so no memory past element n−1 is
//     touched and the tail is computed by the same instructions.
//
// Kernels have variants selected by flags (weight decay on or off, the first
// momentum step, ...): one assembly function per combination, so the loops
// carry no branches. Scalars are broadcast into registers before the loop,
// or re-broadcast from the argument frame at each use when the registers run
// out (AVX2's sixteen).
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"math"
	"os"
	"sort"
	"strings"
)

// ---- kernel descriptions ----

type kernel struct {
	name    string   // Go base name, e.g. "adam"
	arrays  []string // slice arguments (as *float32), in order
	scalars []string // float32 arguments, in order
	flags   string   // one letter per variant bit, bit i = flags[i]
	doc     string
	body    func(b *builder, has func(flag byte) bool)
	// portable: the generator also writes the kernel's Go counterpart to
	// kernels_portable.go (the activation kernels); the optimizers' portable
	// kernels are the hand-written loops of portable.go.
	portable bool
}

var kernels = []kernel{
	{
		name: "sgd", arrays: []string{"theta", "grad"}, scalars: []string{"nlr", "wd"}, flags: "W",
		doc: "θ ← θ + nlr·g",
		body: func(b *builder, has func(byte) bool) {
			th := b.load("theta")
			g := b.grad(th, has('W'))
			b.store("theta", b.add(th, b.mul(b.s("nlr"), g)))
		},
	},
	{
		name: "momentum", arrays: []string{"theta", "grad", "b"}, scalars: []string{"nlr", "mu", "damp", "wd"}, flags: "WFN",
		doc: "b ← g (F) or μ·b + damp·g;  θ ← θ + nlr·(g + μ·b) (N) or θ + nlr·b",
		body: func(b *builder, has func(byte) bool) {
			th := b.load("theta")
			g := b.grad(th, has('W'))
			bn := g
			if !has('F') {
				bn = b.add(b.mul(b.s("mu"), b.load("b")), b.mul(b.s("damp"), g))
			}
			b.store("b", bn)
			step := bn
			if has('N') {
				step = b.add(g, b.mul(b.s("mu"), bn))
			}
			b.store("theta", b.add(th, b.mul(b.s("nlr"), step)))
		},
	},
	{
		name: "adam", arrays: []string{"theta", "grad", "m", "v", "vmax"},
		scalars: []string{"b1", "c1", "b2", "c2", "bc2sqrt", "eps", "stepsize", "wd", "keep"}, flags: "WDA",
		doc: "θ ← θ·keep (D); m ← β₁m + c₁g; v ← β₂v + c₂g·g; u = v or vmax ← max(vmax, v) (A); θ ← θ − s·m/(√u/bc + ε)",
		body: func(b *builder, has func(byte) bool) {
			th := b.load("theta")
			if has('D') {
				th = b.mul(th, b.s("keep"))
			}
			g := b.grad(th, has('W'))
			vn := b.add(b.mul(b.s("b2"), b.load("v")), b.mul(b.mul(b.s("c2"), g), g))
			b.store("v", vn)
			u := vn
			if has('A') {
				u = b.maxGo(b.load("vmax"), vn)
				b.store("vmax", u)
			}
			den := b.add(b.div(b.sqrt(u), b.s("bc2sqrt")), b.s("eps"))
			mn := b.add(b.mul(b.s("b1"), b.load("m")), b.mul(b.s("c1"), g))
			b.store("m", mn)
			b.store("theta", b.sub(th, b.div(b.mul(b.s("stepsize"), mn), den)))
		},
	},
	{
		name: "nadam", arrays: []string{"theta", "grad", "m", "v"},
		scalars: []string{"b1", "c1", "b2", "c2", "bc2", "eps", "cg", "cm", "wd"}, flags: "W",
		doc: "m ← β₁m + c₁g; v ← β₂v + c₂g·g; d = √(v/bc) + ε; θ ← θ − cg·g/d; θ ← θ − cm·m/d",
		body: func(b *builder, has func(byte) bool) {
			th := b.load("theta")
			g := b.grad(th, has('W'))
			vn := b.add(b.mul(b.s("b2"), b.load("v")), b.mul(b.mul(b.s("c2"), g), g))
			b.store("v", vn)
			den := b.add(b.sqrt(b.div(vn, b.s("bc2"))), b.s("eps"))
			th = b.sub(th, b.div(b.mul(b.s("cg"), g), den))
			mn := b.add(b.mul(b.s("b1"), b.load("m")), b.mul(b.s("c1"), g))
			b.store("m", mn)
			b.store("theta", b.sub(th, b.div(b.mul(b.s("cm"), mn), den)))
		},
	},
	{
		name: "rmsprop", arrays: []string{"theta", "grad", "v", "gavg", "b"},
		scalars: []string{"alpha", "calpha", "eps", "mu", "lr", "wd"}, flags: "WCM",
		doc: "v ← αv + c·g·g; ṽ = v or v − ḡ², ḡ ← αḡ + c·g (C); d = √ṽ + ε; b ← μb + g/d, θ ← θ − lr·b (M) or θ ← θ − lr·g/d",
		body: func(b *builder, has func(byte) bool) {
			th := b.load("theta")
			g := b.grad(th, has('W'))
			vn := b.add(b.mul(b.s("alpha"), b.load("v")), b.mul(b.mul(b.s("calpha"), g), g))
			b.store("v", vn)
			vt := vn
			if has('C') {
				ga := b.add(b.mul(b.s("alpha"), b.load("gavg")), b.mul(b.s("calpha"), g))
				b.store("gavg", ga)
				vt = b.sub(vt, b.mul(ga, ga))
			}
			den := b.add(b.sqrt(vt), b.s("eps"))
			if has('M') {
				bn := b.add(b.mul(b.s("mu"), b.load("b")), b.div(g, den))
				b.store("b", bn)
				b.store("theta", b.sub(th, b.mul(b.s("lr"), bn)))
			} else {
				b.store("theta", b.sub(th, b.div(b.mul(b.s("lr"), g), den)))
			}
		},
	},
	{
		name: "adagrad", arrays: []string{"theta", "grad", "sum"}, scalars: []string{"clr", "eps", "wd"}, flags: "W",
		doc: "s ← s + g·g; θ ← θ − clr·g/(√s + ε)",
		body: func(b *builder, has func(byte) bool) {
			th := b.load("theta")
			g := b.grad(th, has('W'))
			sn := b.add(b.load("sum"), b.mul(g, g))
			b.store("sum", sn)
			b.store("theta", b.sub(th, b.div(b.mul(b.s("clr"), g), b.add(b.sqrt(sn), b.s("eps")))))
		},
	},
	{
		name: "adadelta", arrays: []string{"theta", "grad", "v", "u"}, scalars: []string{"rho", "crho", "eps", "lr", "wd"}, flags: "W",
		doc: "v ← ρv + c·g·g; d = √(u+ε)/√(v+ε)·g; u ← ρu + c·d·d; θ ← θ − lr·d",
		body: func(b *builder, has func(byte) bool) {
			th := b.load("theta")
			g := b.grad(th, has('W'))
			vn := b.add(b.mul(b.s("rho"), b.load("v")), b.mul(b.mul(b.s("crho"), g), g))
			b.store("v", vn)
			uo := b.load("u")
			d := b.mul(b.div(b.sqrt(b.add(uo, b.s("eps"))), b.sqrt(b.add(vn, b.s("eps")))), g)
			b.store("u", b.add(b.mul(b.s("rho"), uo), b.mul(b.mul(b.s("crho"), d), d)))
			b.store("theta", b.sub(th, b.mul(b.s("lr"), d)))
		},
	},
	// The activation kernels share one signature, (n, a, b, c, s): a and b
	// are read, the last array named in the body is written, s is a scalar.
	{
		name: "sigmoid", arrays: actArrays, scalars: actScalars, portable: true,
		doc: "b ← σ(a) = 1/(1 + e^−a) for a ≥ 0, e^a/(1 + e^a) otherwise",
		body: func(b *builder, _ func(byte) bool) {
			x := b.load("a")
			e := b.expNeg(b.or(x, b.c(signBit))) // e^−|x|
			d := b.add(b.c(one), e)
			num := b.blend(b.cmp("ge", x, b.c(0)), b.c(one), e)
			b.store("b", b.div(num, d))
		},
	},
	{
		name: "tanh", arrays: actArrays, scalars: actScalars, portable: true,
		doc: "b ← tanh(a) = ±tanh|a|: |a| + |a|·z·P(z), z = a², for |a| < 0.625, (1 − e)/(1 + e) with e = e^−2|a| otherwise",
		body: func(b *builder, _ func(byte) bool) {
			x := b.load("a")
			ax := b.and(x, b.c(absMask))
			e := b.expNeg(b.mul(ax, b.c(f32(-2))))
			big := b.div(b.sub(b.c(one), e), b.add(b.c(one), e))
			z := b.mul(ax, ax)
			p := b.poly(z, tanhP)
			small := b.add(b.mul(b.mul(p, z), ax), ax)
			r := b.blend(b.cmp("lt", ax, b.c(f32(0.625))), small, big)
			b.store("b", b.or(r, b.and(x, b.c(signBit)))) // tanh(|x|) ≥ 0 takes x's sign
		},
	},
	{
		name: "expShift", arrays: actArrays, scalars: actScalars, portable: true,
		doc: "b ← e^(a − s), for a − s ≤ 0 (softmax's shift by the row maximum)",
		body: func(b *builder, _ func(byte) bool) {
			b.store("b", b.expNeg(b.sub(b.load("a"), b.s("s"))))
		},
	},
	{
		name: "sigmoidGrad", arrays: actArrays, scalars: actScalars, portable: true,
		doc: "c ← a·(b·(1 − b)), a the upstream gradient and b = σ(x)",
		body: func(b *builder, _ func(byte) bool) {
			y := b.load("b")
			b.store("c", b.mul(b.load("a"), b.mul(y, b.sub(b.c(one), y))))
		},
	},
	{
		name: "tanhGrad", arrays: actArrays, scalars: actScalars, portable: true,
		doc: "c ← a·(1 − b·b), a the upstream gradient and b = tanh(x)",
		body: func(b *builder, _ func(byte) bool) {
			y := b.load("b")
			b.store("c", b.mul(b.load("a"), b.sub(b.c(one), b.mul(y, y))))
		},
	},
	{
		name: "leakyRelu", arrays: actArrays, scalars: actScalars, portable: true,
		doc: "b ← a if a > 0, s·a otherwise",
		body: func(b *builder, _ func(byte) bool) {
			x := b.load("a")
			b.store("b", b.blend(b.cmp("gt", x, b.c(0)), x, b.mul(b.s("s"), x)))
		},
	},
	{
		name: "leakyReluGrad", arrays: actArrays, scalars: actScalars, portable: true,
		doc: "c ← a·(1 if b > 0, s otherwise), a the upstream gradient and b = x",
		body: func(b *builder, _ func(byte) bool) {
			g := b.load("a")
			d := b.blend(b.cmp("gt", b.load("b"), b.c(0)), b.c(one), b.s("s"))
			b.store("c", b.mul(g, d))
		},
	},
}

var (
	actArrays  = []string{"a", "b", "c"}
	actScalars = []string{"s"}
)

// Bit patterns of the constants the activation kernels use.
const (
	signBit = 0x80000000
	one     = 0x3f800000
	absMask = 0x7fffffff
)

func f32(x float32) uint32 { return math.Float32bits(x) }

// The exp kernel's constants (Cephes expf): Cody–Waite split of ln 2, whose
// high part has 9 significant bits so n·expC1 is exact for |n| ≤ 2^15, and
// the minimax polynomial of (e^r − 1 − r)/r² on |r| ≤ ln(2)/2.
var (
	expLog2e = f32(1.44269504088896341)
	expMagic = f32(12582912) // 1.5·2^23: adding it rounds to an integer
	expC1    = f32(0.693359375)
	expC2    = f32(-2.12194440e-4)
	expP     = []float32{1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1}
	// tanhP is Cephes tanhf's polynomial: tanh x ≈ x + x·z·P(z), z = x², |x| < 0.625.
	tanhP = []float32{-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1}
)

// ---- intermediate form ----

type op struct {
	kind string // load store scalar const mul add sub div sqrt max and or cmp* blend cvt iadd isub srai1 slli23
	args []int  // value ids
	name string // array or scalar name; a const's is constName(bits)
	bits uint32 // a const's bit pattern
	mask bool   // produces a comparison mask
}

func constName(bits uint32) string { return fmt.Sprintf("c%08x", bits) }

// pinnable reports whether o is a broadcast value (a scalar argument or a
// constant) that may keep a register for the whole function.
func pinnable(o op) bool { return o.kind == "scalar" || o.kind == "const" }

// builder records one element's update as a list of operations; value i is
// the result of ops[i].
type builder struct {
	k   *kernel
	ops []op
}

func (b *builder) emit(o op) int { b.ops = append(b.ops, o); return len(b.ops) - 1 }

func (b *builder) load(arr string) int { b.checkArr(arr); return b.emit(op{kind: "load", name: arr}) }
func (b *builder) store(arr string, v int) {
	b.checkArr(arr)
	b.emit(op{kind: "store", name: arr, args: []int{v}})
}
func (b *builder) s(name string) int {
	for _, s := range b.k.scalars {
		if s == name {
			return b.emit(op{kind: "scalar", name: name})
		}
	}
	panic("unknown scalar " + name)
}
func (b *builder) mul(x, y int) int { return b.emit(op{kind: "mul", args: []int{x, y}}) }
func (b *builder) add(x, y int) int { return b.emit(op{kind: "add", args: []int{x, y}}) }
func (b *builder) sub(x, y int) int { return b.emit(op{kind: "sub", args: []int{x, y}}) }
func (b *builder) div(x, y int) int { return b.emit(op{kind: "div", args: []int{x, y}}) }
func (b *builder) sqrt(x int) int   { return b.emit(op{kind: "sqrt", args: []int{x}}) }
func (b *builder) and(x, y int) int { return b.emit(op{kind: "and", args: []int{x, y}}) }
func (b *builder) or(x, y int) int  { return b.emit(op{kind: "or", args: []int{x, y}}) }

// c is the constant with bit pattern bits in every lane.
func (b *builder) c(bits uint32) int {
	return b.emit(op{kind: "const", name: constName(bits), bits: bits})
}

// maxX is the x86 MAXPS rule, x > y ? x : y: y when either is NaN.
func (b *builder) maxX(x, y int) int { return b.emit(op{kind: "max", args: []int{x, y}}) }

// cmp is the mask of x pred y for pred lt, gt or ge (false when either is
// NaN, as Go's comparisons).
func (b *builder) cmp(pred string, x, y int) int {
	return b.emit(op{kind: "cmp" + pred, args: []int{x, y}, mask: true})
}

// blend is m ? x : y, lane by lane.
func (b *builder) blend(m, x, y int) int { return b.emit(op{kind: "blend", args: []int{m, x, y}}) }

// poly is Horner's ((c0·z + c1)·z + …) + c_last, one rounding per operation.
func (b *builder) poly(z int, cs []float32) int {
	p := b.c(f32(cs[0]))
	for _, c := range cs[1:] {
		p = b.add(b.mul(p, z), b.c(f32(c)))
	}
	return p
}

// expNeg is e^a for a ≤ 0 (NaN for NaN), to within about one ulp also
// where the result is subnormal:
//
//	a  = max(a, −104)                 (e^−104 rounds to 0 in float32)
//	n  = round(a·log2e)               (adding and subtracting 1.5·2^23)
//	r  = (a − n·C1) − n·C2
//	p  = (P(r)·r²  + r) + 1
//	e^a = (p·2^⌊n/2⌋)·2^(n−⌊n/2⌋)      (two exact powers of two built in the
//	                                   exponent bits; only the last product
//	                                   rounds, once, also to a subnormal)
func (b *builder) expNeg(a int) int {
	a = b.maxX(b.c(f32(-104)), a)
	t := b.add(b.mul(a, b.c(expLog2e)), b.c(expMagic))
	n := b.sub(t, b.c(expMagic))
	r := b.sub(b.sub(a, b.mul(n, b.c(expC1))), b.mul(n, b.c(expC2)))
	z := b.mul(r, r)
	p := b.add(b.add(b.mul(b.poly(r, expP), z), r), b.c(one))
	ni := b.emit(op{kind: "cvt", args: []int{n}})
	n1 := b.emit(op{kind: "srai1", args: []int{ni}})
	n2 := b.emit(op{kind: "isub", args: []int{ni, n1}})
	pow := func(k int) int {
		return b.emit(op{kind: "slli23", args: []int{b.emit(op{kind: "iadd", args: []int{k, b.c(127)}})}})
	}
	return b.mul(b.mul(p, pow(n1)), pow(n2))
}

// grad is g = grad, or grad + wd·θ with weight decay.
func (b *builder) grad(th int, wd bool) int {
	g := b.load("grad")
	if wd {
		g = b.add(g, b.mul(b.s("wd"), th))
	}
	return g
}

// maxGo is Go's max(x, y) for float32: NaN if either is NaN (y's when y is
// one), +0 for max(−0, +0), else the larger. MAXPS(y, x) returns x when
// either is NaN or both are zeros; equal operands take x AND y (+0 unless
// both are −0); a NaN y is then put back.
func (b *builder) maxGo(x, y int) int {
	eq := b.emit(op{kind: "cmpeq", args: []int{y, x}, mask: true})
	r := b.emit(op{kind: "max", args: []int{y, x}})
	r = b.emit(op{kind: "blend", args: []int{eq, b.emit(op{kind: "and", args: []int{x, y}}), r}})
	nan := b.emit(op{kind: "cmpunord", args: []int{y, y}, mask: true})
	return b.emit(op{kind: "blend", args: []int{nan, y, r}})
}

func (b *builder) checkArr(arr string) {
	for _, a := range b.k.arrays {
		if a == arr {
			return
		}
	}
	panic("unknown array " + arr)
}

// ---- instruction sets ----

type isa struct {
	name    string // avx512 or avx2
	goName  string // AVX512 or AVX2
	lanes   int
	vreg    string   // Z or Y
	nvec    int      // vector registers usable for values and scalars
	masks   []string // registers for comparison masks ("" = vector registers)
	unroll  int
	tailDoc string
}

var isas = []isa{
	{name: "avx512", goName: "AVX512", lanes: 16, vreg: "Z", nvec: 32, masks: []string{"K2", "K3", "K4", "K5", "K6", "K7"}, unroll: 2,
		tailDoc: "opmask K1"},
	{name: "avx2", goName: "AVX2", lanes: 8, vreg: "Y", nvec: 15, unroll: 2,
		tailDoc: "VMASKMOVPS with mask Y15"},
}

var arrRegs = []string{"R8", "R9", "R10", "R11", "R12"}

// ---- register allocation ----

type alloc struct {
	reg    []string // register of each value ("" for stores)
	pinned map[string]string
}

// allocate assigns registers to the values of ops (the body repeated for
// unroll copies); pinned scalars keep registers from the top of the file.
// It reports false when the registers do not suffice.
func allocate(is isa, ops []op, pin []string) (alloc, bool) {
	a := alloc{reg: make([]string, len(ops)), pinned: map[string]string{}}
	free := []string{}
	top := is.nvec - 1
	for _, s := range pin {
		a.pinned[s] = fmt.Sprintf("%s%d", is.vreg, top)
		top--
	}
	for r := top; r >= 0; r-- {
		free = append(free, fmt.Sprintf("%s%d", is.vreg, r))
	}
	freeMask := append([]string(nil), is.masks...)
	last := make([]int, len(ops))
	for i := range last {
		last[i] = -1
	}
	for i, o := range ops {
		for _, v := range o.args {
			last[v] = i
		}
	}
	pop := func(mask bool) (string, bool) {
		if mask && len(is.masks) > 0 {
			if len(freeMask) == 0 {
				return "", false
			}
			r := freeMask[0]
			freeMask = freeMask[1:]
			return r, true
		}
		if len(free) == 0 {
			return "", false
		}
		r := free[len(free)-1]
		free = free[:len(free)-1]
		return r, true
	}
	push := func(r string) {
		if strings.HasPrefix(r, "K") {
			freeMask = append(freeMask, r)
		} else {
			free = append(free, r)
		}
	}
	for i, o := range ops {
		if pinnable(o) {
			if r, ok := a.pinned[o.name]; ok {
				a.reg[i] = r
				continue
			}
		}
		// Free the arguments that die here (each once), so the result may
		// take one of their registers.
		seen := map[int]bool{}
		for _, v := range o.args {
			if last[v] == i && !seen[v] && !isPinned(a, ops, v) {
				push(a.reg[v])
			}
			seen[v] = true
		}
		if o.kind == "store" {
			continue
		}
		r, ok := pop(o.mask)
		if !ok {
			return a, false
		}
		a.reg[i] = r
		if last[i] < 0 {
			panic(fmt.Sprintf("value %d (%s) unused", i, o.kind))
		}
	}
	return a, true
}

func isPinned(a alloc, ops []op, v int) bool {
	if !pinnable(ops[v]) {
		return false
	}
	_, ok := a.pinned[ops[v].name]
	return ok
}

// ---- emission ----

type emitter struct{ bytes.Buffer }

func (e *emitter) f(format string, args ...any) { fmt.Fprintf(&e.Buffer, format+"\n", args...) }

type variant struct {
	k     *kernel
	bits  int
	flags string // letters of the set bits
}

func (v variant) has(f byte) bool {
	i := strings.IndexByte(v.k.flags, f)
	if i < 0 {
		panic("unknown flag " + string(f))
	}
	return v.bits&(1<<i) != 0
}

func (v variant) funcName(is isa) string { return v.k.name + is.goName + v.flags }

func variants(k *kernel) []variant {
	var vs []variant
	for bits := 0; bits < 1<<len(k.flags); bits++ {
		var fl []byte
		for i := range len(k.flags) {
			if bits&(1<<i) != 0 {
				fl = append(fl, k.flags[i])
			}
		}
		vs = append(vs, variant{k, bits, string(fl)})
	}
	return vs
}

// body builds unroll copies of the variant's element update.
func (v variant) body(unroll int) ([]op, []int) {
	b := &builder{k: v.k}
	var starts []int
	for range unroll {
		starts = append(starts, len(b.ops))
		v.k.body(b, v.has)
	}
	return b.ops, starts
}

func argOffsets(k *kernel) (map[string]int, int) {
	off := map[string]int{"n": 0}
	o := 8
	for _, a := range k.arrays {
		off[a] = o
		o += 8
	}
	for _, s := range k.scalars {
		off[s] = o
		o += 4
	}
	return off, o
}

func goSignature(k *kernel) string {
	return fmt.Sprintf("(n int, %s *float32, %s float32)", strings.Join(k.arrays, ", "), strings.Join(k.scalars, ", "))
}

// usedScalars lists the scalars and constants a variant reads, most used
// first (scalars in argument order, then constants in order of first use,
// among equals).
func usedScalars(ops []op, k *kernel) []string {
	count := map[string]int{}
	var consts []string
	for _, o := range ops {
		if pinnable(o) {
			if o.kind == "const" && count[o.name] == 0 {
				consts = append(consts, o.name)
			}
			count[o.name]++
		}
	}
	var out []string
	for _, s := range k.scalars {
		if count[s] > 0 {
			out = append(out, s)
		}
	}
	out = append(out, consts...)
	// stable sort by descending count
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && count[out[j]] > count[out[j-1]]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// plan allocates registers for unroll copies, pinning as many scalars as
// fit; it lowers the unroll to 1 if even that fails.
func plan(is isa, v variant) (ops []op, starts []int, a alloc, unroll int) {
	for unroll = is.unroll; unroll >= 1; unroll-- {
		ops, starts = v.body(unroll)
		scal := usedScalars(ops, v.k)
		for np := len(scal); np >= 0; np-- {
			if a, ok := allocate(is, ops, scal[:np]); ok {
				return ops, starts, a, unroll
			}
		}
	}
	panic("cannot allocate registers for " + v.funcName(is))
}

// emitKernel emits the assembly function of variant v for instruction set
// is: the prologue (array pointers, pinned scalar broadcasts), the unrolled
// main loop when the plan unrolls, the one-vector loop and the masked tail.
func emitKernel(e *emitter, is isa, v variant) {
	k := v.k
	off, size := argOffsets(k)
	ops, starts, a, unroll := plan(is, v)
	ops1, starts1, a1, _ := planUnroll1(is, v)
	name := v.funcName(is)
	e.f("// func %s%s", name, goSignature(k))
	e.f("TEXT ·%s(SB), NOSPLIT, $0-%d", name, size)
	e.f("\tMOVQ n+0(FP), CX")
	areg := loadArrays(e, k, ops, off)
	broadcastPinned(e, k, name, off, a, a1)
	e.f("\tXORQ BX, BX")
	if unroll > 1 {
		e.f("\tMOVQ CX, DX")
		e.f("\tANDQ $-%d, DX", unroll*is.lanes)
		e.f("\tJZ one")
		e.f("loop:")
		emitBody(e, is, ops, starts, a, areg, off, false)
		e.f("\tADDQ $%d, BX", unroll*is.lanes)
		e.f("\tCMPQ BX, DX")
		e.f("\tJB loop")
		e.f("one:")
	}
	e.f("\tMOVQ CX, DX")
	e.f("\tANDQ $-%d, DX", is.lanes)
	e.f("\tCMPQ BX, DX")
	e.f("\tJAE tail")
	e.f("loop1:")
	emitBody(e, is, ops1, starts1, a1, areg, off, false)
	e.f("\tADDQ $%d, BX", is.lanes)
	e.f("\tCMPQ BX, DX")
	e.f("\tJB loop1")
	e.f("tail:")
	e.f("\tSUBQ BX, CX")
	e.f("\tJZ done")
	emitTailMask(e, is)
	emitBody(e, is, ops1, starts1, a1, areg, off, true)
	e.f("done:")
	e.f("\tVZEROUPPER")
	e.f("\tRET")
	e.f("")
}

// loadArrays assigns each array argument of k its base register (arrRegs,
// in argument order) and loads from the frame those that ops reads or
// writes. It returns the array → register map.
func loadArrays(e *emitter, k *kernel, ops []op, off map[string]int) map[string]string {
	used := map[string]bool{}
	for _, o := range ops {
		if o.kind == "load" || o.kind == "store" {
			used[o.name] = true
		}
	}
	areg := map[string]string{}
	for i, arr := range k.arrays {
		areg[arr] = arrRegs[i]
		if used[arr] {
			e.f("\tMOVQ %s+%d(FP), %s", arr, off[arr], arrRegs[i])
		}
	}
	return areg
}

// broadcastPinned broadcasts, in argument order, the scalars pinned to a
// register by the unrolled plan a or the single-vector plan a1; the two
// plans must not pin different scalars to one register.
func broadcastPinned(e *emitter, k *kernel, name string, off map[string]int, a, a1 alloc) {
	bcast := map[string]string{}
	for s, r := range a.pinned {
		bcast[r] = s
	}
	for s, r := range a1.pinned {
		if old, ok := bcast[r]; ok && old != s {
			panic("pinned register clash in " + name)
		}
		bcast[r] = s
	}
	for _, s := range k.scalars {
		for r, s2 := range bcast {
			if s2 == s {
				e.f("\tVBROADCASTSS %s+%d(FP), %s", s, off[s], r)
			}
		}
	}
	var regs []string
	for r, s := range bcast {
		if strings.HasPrefix(s, "c") && constOff[s] >= 0 {
			if _, isArg := off[s]; !isArg {
				regs = append(regs, r)
			}
		}
	}
	sort.Slice(regs, func(i, j int) bool { return bcast[regs[i]] < bcast[regs[j]] })
	for _, r := range regs {
		e.f("\tVBROADCASTSS %s, %s", constRef(bcast[r]), r)
	}
}

// constOff is the offset of each constant in the vconst<> table of every
// assembly file (collected from all kernels before emission).
var constOff = map[string]int{}

// constBits lists the constants' bit patterns in table order.
var constBits []uint32

func constRef(name string) string { return fmt.Sprintf("vconst<>+%d(SB)", constOff[name]) }

// collectConsts fills constOff and constBits from every kernel's body.
func collectConsts() {
	for ki := range kernels {
		k := &kernels[ki]
		for _, v := range variants(k) {
			ops, _ := v.body(1)
			for _, o := range ops {
				if _, ok := constOff[o.name]; o.kind == "const" && !ok {
					constOff[o.name] = 4 * len(constBits)
					constBits = append(constBits, o.bits)
				}
			}
		}
	}
}

// emitTailMask builds the mask of the CX remaining elements (0 < CX <
// lanes): opmask K1 for AVX-512, Y15 read from tailmask<> for AVX2.
func emitTailMask(e *emitter, is isa) {
	if is.name == "avx512" {
		e.f("\tMOVL $1, AX")
		e.f("\tSHLL CX, AX")
		e.f("\tDECL AX")
		e.f("\tKMOVW AX, K1")
		return
	}
	e.f("\tLEAQ tailmask<>+%d(SB), AX", 4*is.lanes)
	e.f("\tSHLQ $2, CX")
	e.f("\tSUBQ CX, AX")
	e.f("\tVMOVDQU (AX), Y15")
}

// planUnroll1 is plan for a single vector, pinning the same scalars as the
// unrolled plan where possible (both share one prologue).
func planUnroll1(is isa, v variant) ([]op, []int, alloc, int) {
	ops, starts, a, unroll := plan(is, v)
	if unroll == 1 {
		return ops, starts, a, 1
	}
	ops1, starts1 := v.body(1)
	var pin []string
	// Pin in the same order as the unrolled plan so registers coincide.
	scal := usedScalars(ops1, v.k)
	for _, s := range scal {
		if _, ok := a.pinned[s]; ok {
			pin = append(pin, s)
		}
	}
	a1, ok := allocate(is, ops1, pin)
	if !ok {
		panic("single-vector body does not fit in " + v.funcName(is))
	}
	return ops1, starts1, a1, 1
}

func emitBody(e *emitter, is isa, ops []op, starts []int, a alloc, areg map[string]string, off map[string]int, masked bool) {
	copyOf := func(i int) int {
		c := 0
		for j, s := range starts {
			if i >= s {
				c = j
			}
		}
		return c
	}
	mem := func(i int, arr string) string {
		d := copyOf(i) * 4 * is.lanes
		return fmt.Sprintf("%d(%s)(BX*4)", d, areg[arr])
	}
	for i, o := range ops {
		r := a.reg[i]
		arg := func(j int) string { return a.reg[o.args[j]] }
		switch o.kind {
		case "scalar":
			if _, ok := a.pinned[o.name]; !ok {
				e.f("\tVBROADCASTSS %s+%d(FP), %s", o.name, off[o.name], r)
			}
		case "const":
			if _, ok := a.pinned[o.name]; !ok {
				e.f("\tVBROADCASTSS %s, %s", constRef(o.name), r)
			}
		case "or":
			if is.name == "avx512" {
				e.f("\tVPORD %s, %s, %s", arg(1), arg(0), r)
			} else {
				e.f("\tVORPS %s, %s, %s", arg(1), arg(0), r)
			}
		case "iadd", "isub":
			e.f("\tVP%sD %s, %s, %s", strings.ToUpper(o.kind[1:]), arg(1), arg(0), r)
		case "srai1":
			e.f("\tVPSRAD $1, %s, %s", arg(0), r)
		case "slli23":
			e.f("\tVPSLLD $23, %s, %s", arg(0), r)
		case "cvt": // round to nearest even (the MXCSR default); 0x80000000 for NaN
			e.f("\tVCVTPS2DQ %s, %s", arg(0), r)
		case "cmplt", "cmpgt", "cmpge":
			pred := map[string]int{"cmplt": 17, "cmpgt": 30, "cmpge": 29}[o.kind] // LT_OQ, GT_OQ, GE_OQ
			e.f("\tVCMPPS $%d, %s, %s, %s", pred, arg(1), arg(0), r)
		case "load":
			switch {
			case !masked:
				e.f("\tVMOVUPS %s, %s", mem(i, o.name), r)
			case is.name == "avx512":
				e.f("\tVMOVUPS.Z %s, K1, %s", mem(i, o.name), r)
			default:
				e.f("\tVMASKMOVPS %s, Y15, %s", mem(i, o.name), r)
			}
		case "store":
			switch {
			case !masked:
				e.f("\tVMOVUPS %s, %s", arg(0), mem(i, o.name))
			case is.name == "avx512":
				e.f("\tVMOVUPS %s, K1, %s", arg(0), mem(i, o.name))
			default:
				e.f("\tVMASKMOVPS %s, Y15, %s", arg(0), mem(i, o.name))
			}
		case "mul", "add", "sub", "div", "max":
			// Go assembler order: OP src2, src1, dst computes dst = src1 op src2.
			e.f("\tV%sPS %s, %s, %s", strings.ToUpper(o.kind), arg(1), arg(0), r)
		case "sqrt":
			e.f("\tVSQRTPS %s, %s", arg(0), r)
		case "and":
			if is.name == "avx512" {
				e.f("\tVPANDD %s, %s, %s", arg(1), arg(0), r)
			} else {
				e.f("\tVANDPS %s, %s, %s", arg(1), arg(0), r)
			}
		case "cmpeq", "cmpunord":
			pred := map[string]int{"cmpeq": 0, "cmpunord": 3}[o.kind] // EQ_OQ, UNORD_Q
			e.f("\tVCMPPS $%d, %s, %s, %s", pred, arg(1), arg(0), r)
		case "blend": // r = mask ? a : b
			if is.name == "avx512" {
				e.f("\tVBLENDMPS %s, %s, %s, %s", arg(1), arg(2), arg(0), r)
			} else {
				e.f("\tVBLENDVPS %s, %s, %s, %s", arg(0), arg(1), arg(2), r)
			}
		default:
			panic(o.kind)
		}
	}
}

const header = `// Code generated by genkernels.go; DO NOT EDIT.

//go:build amd64 && !purego

`

const asmDoc = `// %[1]s kernels of package vec: element-wise optimizer updates over float32
// slices, %[2]d floats per vector. Each function computes exactly the
// expression of its portable.go counterpart, one rounded instruction per Go
// operation and no FMA, so results are bit-identical; a main loop of %[3]d
// vectors, a one-vector loop and a masked tail (%[4]s) cover any n.
`

func main() {
	collectConsts()
	writePortable()
	var goDecl emitter
	goDecl.f("%s", strings.TrimRight(header, "\n"))
	goDecl.f("")
	goDecl.f("package vec")
	goDecl.f("")
	declareSets(&goDecl)
	for _, is := range isas {
		writeAsm(is, &goDecl)
	}
	// Declarations of the other instruction sets.
	for _, is := range isas[1:] {
		for ki := range kernels {
			k := &kernels[ki]
			for _, v := range variants(k) {
				declare(&goDecl, is, v)
			}
		}
	}
	src, err := format.Source(goDecl.Bytes())
	if err != nil {
		os.Stdout.Write(goDecl.Bytes())
		panic(err)
	}
	if err := os.WriteFile("kernels_amd64.go", src, 0o644); err != nil {
		panic(err)
	}
}

// declareSets writes the asmSet type (one field per kernel, a table of its
// variants) and one asmSet value per instruction set.
func declareSets(goDecl *emitter) {
	goDecl.f("// asmSet holds one instruction set's kernels, each indexed by its variant")
	goDecl.f("// flags (bit i set when flag letter i of the kernel is on).")
	goDecl.f("type asmSet struct {")
	goDecl.f("name string")
	for _, k := range kernels {
		goDecl.f("%s [%d]func%s // flags %q: %s", k.name, 1<<len(k.flags), goSignature(&k), k.flags, k.doc)
	}
	goDecl.f("}")
	goDecl.f("")
	for _, is := range isas {
		goDecl.f("var %sSet = asmSet{", is.name)
		goDecl.f("name: %q,", is.name)
		for ki := range kernels {
			k := &kernels[ki]
			var names []string
			for _, v := range variants(k) {
				names = append(names, v.funcName(is))
			}
			goDecl.f("%s: [%d]func%s{%s},", k.name, len(names), goSignature(k), strings.Join(names, ", "))
		}
		goDecl.f("}")
		goDecl.f("")
	}
}

// writeAsm writes kernels_<isa>_amd64.s with every variant of every kernel
// (and, for AVX2, the tailmask<> table). The declarations of the first
// instruction set are written to goDecl in the same order.
func writeAsm(is isa, goDecl *emitter) {
	var e emitter
	e.WriteString(header)
	e.f(asmDoc, is.name, is.lanes, is.unroll, is.tailDoc)
	e.f(`#include "textflag.h"`)
	e.f("")
	e.f("// vconst<> holds the activation kernels' constants, broadcast from here.")
	for i := 0; i < len(constBits); i += 2 {
		if i+1 < len(constBits) {
			e.f("DATA vconst<>+%d(SB)/8, $0x%08x%08x", 4*i, constBits[i+1], constBits[i])
		} else {
			e.f("DATA vconst<>+%d(SB)/4, $0x%08x", 4*i, constBits[i])
		}
	}
	e.f("GLOBL vconst<>(SB), RODATA|NOPTR, $%d", 4*len(constBits))
	e.f("")
	if is.name == "avx2" {
		e.f("// tailmask<>+32−4·rem holds rem all-ones lanes, then zeros.")
		for i := 0; i < 8; i++ {
			val := "$-1"
			if i >= 4 {
				val = "$0"
			}
			e.f("DATA tailmask<>+%d(SB)/8, %s", 8*i, val)
		}
		e.f("GLOBL tailmask<>(SB), RODATA|NOPTR, $64")
		e.f("")
	}
	for ki := range kernels {
		k := &kernels[ki]
		for _, v := range variants(k) {
			emitKernel(&e, is, v)
			if is.name == isas[0].name {
				declare(goDecl, is, v)
			}
		}
	}
	if err := os.WriteFile("kernels_"+is.name+"_amd64.s", e.Bytes(), 0o644); err != nil {
		panic(err)
	}
}

// declare writes the Go declaration of variant v's assembly function for is.
func declare(goDecl *emitter, is isa, v variant) {
	goDecl.f("//go:noescape")
	goDecl.f("func %s%s", v.funcName(is), goSignature(v.k))
	goDecl.f("")
}

// writePortable writes kernels_portable.go: for each kernel marked portable,
// a Go loop that performs the same float32 operations as the assembly, in
// the same order, each rounded on its own (every product is wrapped in
// float32(…) so no compiler fuses it into an FMA), with the x86 rules of
// MAXPS, CVTPS2DQ and the comparisons spelled out by the helpers of
// portable_ops.go. That is what makes the two bit-identical.
func writePortable() {
	var e emitter
	e.f("%s", strings.TrimRight(strings.Replace(header, "//go:build amd64 && !purego\n", "", 1), "\n"))
	e.f("")
	e.f("package vec")
	e.f("")
	e.f("import \"math\"")
	e.f("")
	e.f("var _ = math.Float32frombits")
	for ki := range kernels {
		k := &kernels[ki]
		if !k.portable {
			continue
		}
		ops, _ := variants(k)[0].body(1)
		e.f("")
		e.f("// %sGo is the portable %s kernel: %s.", k.name, k.name, k.doc)
		e.f("func %sGo(n int, %s []float32, %s float32) {", k.name, strings.Join(k.arrays, ", "), strings.Join(k.scalars, ", "))
		e.f("for i := 0; i < n; i++ {")
		v := func(j int) string { return fmt.Sprintf("v%d", j) }
		for i, o := range ops {
			a := func(j int) string { return v(o.args[j]) }
			var x string
			switch o.kind {
			case "load":
				x = o.name + "[i]"
			case "store":
				e.f("%s[i] = %s", o.name, a(0))
				continue
			case "scalar":
				x = o.name
			case "const":
				x = fmt.Sprintf("math.Float32frombits(0x%08x)", o.bits)
			case "mul":
				x = fmt.Sprintf("float32(%s * %s)", a(0), a(1))
			case "add", "sub", "div":
				x = fmt.Sprintf("%s %s %s", a(0), map[string]string{"add": "+", "sub": "-", "div": "/"}[o.kind], a(1))
			case "max":
				x = fmt.Sprintf("maxX(%s, %s)", a(0), a(1))
			case "and", "or", "iadd", "isub":
				x = fmt.Sprintf("%sX(%s, %s)", o.kind, a(0), a(1))
			case "srai1", "slli23", "cvt":
				x = fmt.Sprintf("%sX(%s)", o.kind, a(0))
			case "cmplt", "cmpgt", "cmpge":
				x = fmt.Sprintf("%s %s %s", a(0), map[string]string{"cmplt": "<", "cmpgt": ">", "cmpge": ">="}[o.kind], a(1))
			case "blend":
				x = fmt.Sprintf("blendX(%s, %s, %s)", a(0), a(1), a(2))
			default:
				panic("no portable form of " + o.kind)
			}
			e.f("%s := %s", v(i), x)
		}
		e.f("}")
		e.f("}")
	}
	src, err := format.Source(e.Bytes())
	if err != nil {
		os.Stdout.Write(e.Bytes())
		panic(err)
	}
	if err := os.WriteFile("kernels_portable.go", src, 0o644); err != nil {
		panic(err)
	}
}
