//go:build ignore

// genkernels writes the amd64 assembly micro-kernels of package gemm and
// their Go declarations. Run it with `go generate` in this directory; the
// output files are committed, so ordinary builds need no code generation.
//
// It emits, for each instruction set (AVX-512 with 16-float ZMM vectors and
// AVX2+FMA with 8-float YMM vectors):
//
//   - register-blocked GEMM micro-kernels k<isa><L><mr>x<nv>[e]: an mr×(nv
//     vectors) tile of C is held in registers while k rank-1 updates stream
//     one row of op(B) (nv vector loads) and one column of op(A) (mr scalar
//     broadcasts). L is N when A is row-major m×k (element (r,p) at
//     a[r*lda+p]) and T when it is stored transposed or packed (a[p*lda+r]);
//     the "e" variants mask the last vector for right-hand edges.
//   - dot kernels d<isa><nb> for matrix-vector products against rows of a
//     transposed B (vectors run along k, then a horizontal sum).
//   - packT8, an 8×8 AVX transpose used to pack operands.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"strings"
)

type isa struct {
	name   string // avx512 or avx2
	vw     int    // floats per vector
	reg    string // Z or Y
	mrMax  int    // largest tile height
	accMax int    // accumulator registers available
	bReg   int    // first register for B vectors
}

var isas = []isa{
	{name: "avx512", vw: 16, reg: "Z", mrMax: 12, accMax: 24, bReg: 26},
	{name: "avx2", vw: 8, reg: "Y", mrMax: 6, accMax: 12, bReg: 12},
}

type emitter struct{ bytes.Buffer }

func (e *emitter) f(format string, args ...any) {
	fmt.Fprintf(&e.Buffer, format, args...)
	e.WriteByte('\n')
}

func (e *emitter) i(format string, args ...any) {
	e.WriteByte('\t')
	e.f(format, args...)
}

// unroll picks how many independent accumulator sets a kernel keeps so that
// at least 8 FMA chains are in flight (FMA latency 4 × 2 pipes).
func unroll(is isa, mr, nv int) int {
	u := 1
	for u < 4 && mr*nv*u < 8 && mr*nv*u*2 <= is.accMax {
		u *= 2
	}
	return u
}

func kernName(is isa, t bool, mr, nv int, edge bool) string {
	l := "N"
	if t {
		l = "T"
	}
	s := fmt.Sprintf("k%s%s%dx%d", is.name, l, mr, nv)
	if edge {
		s += "e"
	}
	return s
}

// aAddr is the address of element (r, p) of the current k step of A.
func aAddr(t bool, r int) string {
	if t {
		return fmt.Sprintf("%d(AX)", 4*r)
	}
	base := []string{"AX", "R12", "R13"}[r/5]
	switch r % 5 {
	case 0:
		return "(" + base + ")"
	case 1:
		return "(" + base + ")(R8*1)"
	case 2:
		return "(" + base + ")(R8*2)"
	case 3:
		return "(" + base + ")(R9*1)"
	default:
		return "(" + base + ")(R8*4)"
	}
}

// kernel is one GEMM micro-kernel being emitted: its instruction set, the
// layout of A (t: transposed or packed), the tile shape (mr rows × nv
// vectors), whether the last vector is masked (edge) and the number u of
// accumulator sets rotated over consecutive k steps.
type kernel struct {
	e      *emitter
	is     isa
	t      bool
	mr, nv int
	edge   bool
	u      int  // accumulator sets (see unroll)
	z      bool // AVX-512 (ZMM registers, K1 masks)
	vb     int  // bytes per vector
}

// acc is the accumulator register of set s, tile row r and vector v.
func (k *kernel) acc(s, r, v int) string {
	return fmt.Sprintf("%s%d", k.is.reg, s*k.mr*k.nv+r*k.nv+v)
}

// breg is the register holding vector v of the current row of op(B).
func (k *kernel) breg(v int) string { return fmt.Sprintf("%s%d", k.is.reg, k.is.bReg+v) }

// genKernel emits the micro-kernel kernName(is, t, mr, nv, edge): the
// prologue, the k loop over rank-1 updates and the three ways of combining
// the tile with C.
func genKernel(e *emitter, is isa, t bool, mr, nv int, edge bool) {
	k := &kernel{e: e, is: is, t: t, mr: mr, nv: nv, edge: edge,
		u: unroll(is, mr, nv), z: is.reg == "Z", vb: 4 * is.vw}
	name := kernName(is, t, mr, nv, edge)
	e.f("// func %s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, rem int, mode int, beta float32)", name)
	e.f("TEXT ·%s(SB), NOSPLIT, $0-76", name)
	if edge {
		e.i("MOVQ rem+56(FP), CX")
		emitMask(e, k.z, "CX")
	}
	k.loadArgs()
	k.zeroAccs()
	k.kLoop()
	k.store()
	e.f("")
}

// emitMask builds the mask of the first n floats of a vector, n being in
// register src: K1 for AVX-512 (clobbering CX and DX), Y15 for AVX2
// (clobbering Y14, which is loaded with iota8).
func emitMask(e *emitter, z bool, src string) {
	if z {
		if src != "CX" {
			e.i("MOVQ %s, CX", src)
		}
		e.i("MOVL $1, DX")
		e.i("SHLL CX, DX")
		e.i("DECL DX")
		e.i("KMOVW DX, K1")
		return
	}
	e.i("VMOVQ %s, X15", src)
	e.i("VPBROADCASTD X15, Y15")
	e.i("VMOVDQU iota8<>(SB), Y14")
	e.i("VPCMPGTD Y14, Y15, Y15")
}

// loadArgs loads k, A and B with their strides in bytes and, for a
// row-major A, the row base registers R12 and R13 and 3·lda in R9 that
// aAddr uses.
func (k *kernel) loadArgs() {
	e := k.e
	e.i("MOVQ k+0(FP), CX")
	e.i("MOVQ a+8(FP), AX")
	e.i("MOVQ lda+16(FP), R8")
	e.i("SHLQ $2, R8")
	e.i("MOVQ b+24(FP), BX")
	e.i("MOVQ ldb+32(FP), R10")
	e.i("SHLQ $2, R10")
	if k.t {
		return
	}
	if k.mr > 3 {
		e.i("LEAQ (R8)(R8*2), R9")
	}
	if k.mr > 5 {
		e.i("LEAQ (AX)(R8*4), R12")
		e.i("ADDQ R8, R12")
	}
	if k.mr > 10 {
		e.i("LEAQ (R12)(R8*4), R13")
		e.i("ADDQ R8, R13")
	}
}

// zeroAccs clears every accumulator of every set.
func (k *kernel) zeroAccs() {
	for s := 0; s < k.u; s++ {
		for r := 0; r < k.mr; r++ {
			for v := 0; v < k.nv; v++ {
				a := k.acc(s, r, v)
				if k.z {
					k.e.i("VPXORD %s, %s, %s", a, a, a)
				} else {
					k.e.i("VXORPS %s, %s, %s", a, a, a)
				}
			}
		}
	}
}

// kLoop emits the k loop: u steps per iteration (one per accumulator set),
// then, when u > 1, the k mod u remaining steps on set 0 and the sum of the
// sets into set 0. It ends at label store.
func (k *kernel) kLoop() {
	e := k.e
	if k.u > 1 {
		e.i("MOVQ CX, SI")
		e.i("SHRQ $%d, CX", map[int]int{2: 1, 4: 2}[k.u])
		e.i("JZ tail")
	} else {
		e.i("TESTQ CX, CX")
		e.i("JZ store")
	}
	e.f("loop:")
	for s := 0; s < k.u; s++ {
		k.step(s)
	}
	e.i("DECQ CX")
	e.i("JNZ loop")
	if k.u == 1 {
		return
	}
	e.f("tail:")
	e.i("ANDQ $%d, SI", k.u-1)
	e.i("JZ reduce")
	e.f("tailloop:")
	k.step(0)
	e.i("DECQ SI")
	e.i("JNZ tailloop")
	e.f("reduce:")
	for s := 1; s < k.u; s++ {
		for r := 0; r < k.mr; r++ {
			for v := 0; v < k.nv; v++ {
				e.i("VADDPS %s, %s, %s", k.acc(s, r, v), k.acc(0, r, v), k.acc(0, r, v))
			}
		}
	}
}

// step emits one rank-1 update into accumulator set s: load a row of op(B)
// (masked last vector on edges), broadcast each op(A)(r,p) and FMA, then
// advance A and B by one k step.
func (k *kernel) step(s int) {
	e := k.e
	for v := 0; v < k.nv; v++ {
		switch {
		case !k.edge || v != k.nv-1:
			e.i("VMOVUPS %d(BX), %s", v*k.vb, k.breg(v))
		case k.z:
			e.i("VMOVUPS.Z %d(BX), K1, %s", v*k.vb, k.breg(v))
		default:
			e.i("VMASKMOVPS %d(BX), Y15, %s", v*k.vb, k.breg(v))
		}
	}
	for r := 0; r < k.mr; r++ {
		if k.z {
			for v := 0; v < k.nv; v++ {
				e.i("VFMADD231PS.BCST %s, %s, %s", aAddr(k.t, r), k.breg(v), k.acc(s, r, v))
			}
		} else {
			e.i("VBROADCASTSS %s, Y14", aAddr(k.t, r))
			for v := 0; v < k.nv; v++ {
				e.i("VFMADD231PS %s, Y14, %s", k.breg(v), k.acc(s, r, v))
			}
		}
	}
	if k.t {
		e.i("ADDQ R8, AX")
	} else {
		e.i("ADDQ $4, AX")
		if k.mr > 5 {
			e.i("ADDQ $4, R12")
		}
		if k.mr > 10 {
			e.i("ADDQ $4, R13")
		}
	}
	e.i("ADDQ R10, BX")
}

// store emits label store and the three endings chosen by mode: 0
// overwrites C with the tile, 1 (label add) adds the tile to C and 2 (label
// scale) adds beta·C to it.
func (k *kernel) store() {
	e := k.e
	e.f("store:")
	e.i("MOVQ c+40(FP), DI")
	e.i("MOVQ ldc+48(FP), DX")
	e.i("SHLQ $2, DX")
	e.i("MOVQ mode+64(FP), SI")
	e.i("CMPQ SI, $1")
	e.i("JEQ add")
	e.i("JGT scale")
	tmp, beta := "Z31", "Z30"
	if !k.z {
		tmp, beta = "Y13", "Y14"
	}
	// mode 0: overwrite
	k.rows(func(r, v int, last bool, addr string) { k.storeOne(k.acc(0, r, v), last, addr) })
	e.f("add:")
	k.rows(func(r, v int, last bool, addr string) {
		a := k.acc(0, r, v)
		if last {
			k.loadMasked(addr, tmp)
			e.i("VADDPS %s, %s, %s", tmp, a, a)
		} else {
			e.i("VADDPS %s, %s, %s", addr, a, a)
		}
		k.storeOne(a, last, addr)
	})
	e.f("scale:")
	e.i("VBROADCASTSS beta+72(FP), %s", beta)
	k.rows(func(r, v int, last bool, addr string) {
		a := k.acc(0, r, v)
		if last {
			k.loadMasked(addr, tmp)
			e.i("VFMADD231PS %s, %s, %s", tmp, beta, a)
		} else {
			e.i("VFMADD231PS %s, %s, %s", addr, beta, a)
		}
		k.storeOne(a, last, addr)
	})
}

// rows calls body for every vector v of every tile row r, with the address
// of that vector of C (DI, advanced by ldc after each row) and whether it is
// the masked last vector of an edge tile, then returns from the kernel.
func (k *kernel) rows(body func(r, v int, last bool, addr string)) {
	for r := 0; r < k.mr; r++ {
		for v := 0; v < k.nv; v++ {
			body(r, v, k.edge && v == k.nv-1, fmt.Sprintf("%d(DI)", v*k.vb))
		}
		if r < k.mr-1 {
			k.e.i("ADDQ DX, DI")
		}
	}
	k.e.i("VZEROUPPER")
	k.e.i("RET")
}

// storeOne stores register a at addr, masked if it is the last vector.
func (k *kernel) storeOne(a string, last bool, addr string) {
	switch {
	case !last:
		k.e.i("VMOVUPS %s, %s", a, addr)
	case k.z:
		k.e.i("VMOVUPS %s, K1, %s", a, addr)
	default:
		k.e.i("VMASKMOVPS %s, Y15, %s", a, addr)
	}
}

// loadMasked loads the masked vector at addr into register dst, so that no
// float past the edge is read.
func (k *kernel) loadMasked(addr, dst string) {
	if k.z {
		k.e.i("VMOVUPS.Z %s, K1, %s", addr, dst)
	} else {
		k.e.i("VMASKMOVPS %s, Y15, %s", addr, dst)
	}
}

// dotKernel is one dot kernel d<isa><nb> being emitted: nb rows of B, with
// registers 0..nb-1 and nb..2nb-1 as the two accumulator sets.
type dotKernel struct {
	e  *emitter
	is isa
	nb int
	z  bool   // AVX-512
	vb int    // bytes per vector
	r  string // register prefix, Z or Y
}

// row is the address of byte offset off in row j of B (R9 = 3·ldb).
func (d *dotKernel) row(j, off int) string {
	return fmt.Sprintf("%d%s", off, []string{"(BX)", "(BX)(R8*1)", "(BX)(R8*2)", "(BX)(R9*1)"}[j])
}

// genDot emits d<isa><nb>: c[j] = a·b[j*ldb:] for j < nb, combined with C
// according to mode. Vectors run along k; two accumulator sets per row.
func genDot(e *emitter, is isa, nb int) {
	d := &dotKernel{e: e, is: is, nb: nb, z: is.reg == "Z", vb: 4 * is.vw, r: is.reg}
	name := fmt.Sprintf("d%s%d", is.name, nb)
	e.f("// func %s(k int, a *float32, b *float32, ldb int, c *float32, mode int, beta float32)", name)
	e.f("TEXT ·%s(SB), NOSPLIT, $0-52", name)
	e.i("MOVQ k+0(FP), CX")
	e.i("MOVQ a+8(FP), AX")
	e.i("MOVQ b+16(FP), BX")
	e.i("MOVQ ldb+24(FP), R8")
	e.i("SHLQ $2, R8")
	if nb > 3 {
		e.i("LEAQ (R8)(R8*2), R9")
	}
	for j := 0; j < 2*nb; j++ {
		e.i("VXORPS Y%d, Y%d, Y%d", j, j, j)
	}
	d.loop()
	d.tails()
	d.reduce()
	d.store()
	e.f("")
}

// loop emits the main loop, two vectors of k per iteration, one into each
// accumulator set.
func (d *dotKernel) loop() {
	e, r, vb := d.e, d.r, d.vb
	e.i("MOVQ CX, SI")
	e.i("SHRQ $%d, CX", map[int]int{16: 5, 8: 4}[d.is.vw])
	e.i("JZ tail1")
	e.f("loop:")
	e.i("VMOVUPS (AX), %s8", r)
	e.i("VMOVUPS %d(AX), %s9", vb, r)
	for j := 0; j < d.nb; j++ {
		e.i("VFMADD231PS %s, %s8, %s%d", d.row(j, 0), r, r, j)
		e.i("VFMADD231PS %s, %s9, %s%d", d.row(j, vb), r, r, d.nb+j)
	}
	e.i("ADDQ $%d, AX", 2*vb)
	e.i("ADDQ $%d, BX", 2*vb)
	e.i("DECQ CX")
	e.i("JNZ loop")
}

// tails emits the remaining whole vector of k, if any (label tail1), and the
// masked last partial vector (label tail2).
func (d *dotKernel) tails() {
	e, r, vb, nb := d.e, d.r, d.vb, d.nb
	e.f("tail1:")
	e.i("TESTQ $%d, SI", d.is.vw)
	e.i("JZ tail2")
	e.i("VMOVUPS (AX), %s8", r)
	for j := 0; j < nb; j++ {
		e.i("VFMADD231PS %s, %s8, %s%d", d.row(j, 0), r, r, j)
	}
	e.i("ADDQ $%d, AX", vb)
	e.i("ADDQ $%d, BX", vb)
	e.f("tail2:")
	e.i("ANDQ $%d, SI", d.is.vw-1)
	e.i("JZ reduce")
	emitMask(e, d.z, "SI")
	if d.z {
		e.i("VMOVUPS.Z (AX), K1, Z8")
		for j := 0; j < nb; j++ {
			e.i("VMOVUPS.Z %s, K1, Z%d", d.row(j, 0), 10+j)
			e.i("VFMADD231PS Z%d, Z8, Z%d", 10+j, nb+j)
		}
	} else {
		e.i("VMASKMOVPS (AX), Y15, Y8")
		for j := 0; j < nb; j++ {
			e.i("VMASKMOVPS %s, Y15, Y%d", d.row(j, 0), 10+j)
			e.i("VFMADD231PS Y%d, Y8, Y%d", 10+j, nb+j)
		}
	}
}

// reduce emits label reduce: it adds the second accumulator set into the
// first, then sums each accumulator horizontally into its lowest float.
func (d *dotKernel) reduce() {
	e, r, nb := d.e, d.r, d.nb
	e.f("reduce:")
	for j := 0; j < nb; j++ {
		e.i("VADDPS %s%d, %s%d, %s%d", r, nb+j, r, j, r, j)
	}
	for j := 0; j < nb; j++ {
		if d.z {
			e.i("VEXTRACTF64X4 $1, Z%d, Y10", j)
			e.i("VADDPS Y10, Y%d, Y%d", j, j)
		}
		e.i("VEXTRACTF128 $1, Y%d, X10", j)
		e.i("VADDPS X10, X%d, X%d", j, j)
		e.i("VPERMILPS $0x4e, X%d, X10", j)
		e.i("VADDPS X10, X%d, X%d", j, j)
		e.i("VPERMILPS $0xb1, X%d, X10", j)
		e.i("VADDSS X10, X%d, X%d", j, j)
	}
}

// store emits the three endings chosen by mode: 0 stores the nb sums to
// c[0:nb], 1 (label add) adds them to c and 2 (label scale) adds beta·c.
func (d *dotKernel) store() {
	e, nb := d.e, d.nb
	e.i("MOVQ c+32(FP), DI")
	e.i("MOVQ mode+40(FP), SI")
	e.i("CMPQ SI, $1")
	e.i("JEQ add")
	e.i("JGT scale")
	for j := 0; j < nb; j++ {
		e.i("VMOVSS X%d, %d(DI)", j, 4*j)
	}
	e.i("VZEROUPPER")
	e.i("RET")
	e.f("add:")
	for j := 0; j < nb; j++ {
		e.i("VADDSS %d(DI), X%d, X%d", 4*j, j, j)
		e.i("VMOVSS X%d, %d(DI)", j, 4*j)
	}
	e.i("VZEROUPPER")
	e.i("RET")
	e.f("scale:")
	e.i("VMOVSS beta+48(FP), X11")
	for j := 0; j < nb; j++ {
		e.i("VFMADD231SS %d(DI), X11, X%d", 4*j, j)
		e.i("VMOVSS X%d, %d(DI)", j, 4*j)
	}
	e.i("VZEROUPPER")
	e.i("RET")
}

const packT8 = `// func packT8(n8 int, src *float32, lds int, dst *float32, ldd int)
//
// packT8 transposes an 8×(8·n8) block: for q < 8·n8 and r < 8 it sets
// dst[q*ldd+r] = src[r*lds+q]. It uses the classic unpack/shuffle/permute
// 8×8 AVX transpose.
TEXT ·packT8(SB), NOSPLIT, $0-40
	MOVQ n8+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), R10
	MOVQ dst+24(FP), DI
	MOVQ ldd+32(FP), DX
	SHLQ $2, DX
	LEAQ (DX)(DX*2), R11
	LEAQ (DI)(DX*4), R12
	TESTQ CX, CX
	JZ done
loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VMOVUPS (R10)(R8*2), Y6
	VMOVUPS (R10)(R9*1), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xee, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xee, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xee, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xee, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(DX*1)
	VMOVUPS Y10, (DI)(DX*2)
	VMOVUPS Y11, (DI)(R11*1)
	VMOVUPS Y12, (R12)
	VMOVUPS Y13, (R12)(DX*1)
	VMOVUPS Y14, (R12)(DX*2)
	VMOVUPS Y15, (R12)(R11*1)
	ADDQ $32, SI
	ADDQ $32, R10
	LEAQ (DI)(DX*8), DI
	LEAQ (R12)(DX*8), R12
	DECQ CX
	JNZ loop
done:
	VZEROUPPER
	RET

`

const header = `// Code generated by genkernels.go; DO NOT EDIT.

//go:build amd64 && !purego

`

// asmDoc heads each assembly file.
const asmDoc = `// %[1]s micro-kernels of package gemm (blocking scheme: gemm_amd64.go).
//
// k%[1]s<L><mr>x<nv>[e] computes one mr×(nv·%[2]d) tile of
//
//	C = op(A)·op(B) (+ C, or + beta·C)
//
// keeping the tile in mr·nv %[3]s registers (up to %[4]d) for the whole k loop.
// Each k step loads nv vectors of a row of op(B) from b (row stride ldb,
// which is the panel width when B was packed) and, for every row r of the
// tile, broadcasts op(A)(r,p) and does nv FMAs. L = N reads A row-major
// (a[r*lda+p], rows addressed from three base registers as base + {0, 1, 2,
// 3, 4}·lda); L = T reads it stored transposed or packed (a[p*lda+r]). Tiles
// with fewer than 8 accumulators rotate 2 or 4 accumulator sets over
// consecutive k steps and add them at the end, so that enough independent FMA
// chains hide the FMA latency. The "e" variants mask the last vector of a
// row (rem valid floats) in B loads and in C loads and stores, so an edge
// tile never touches memory past column n. mode 0 stores, 1 adds to C and 2
// adds beta·C; with mode 0, C is never read.
//
// d%[1]s<nb> computes nb dot products of a contiguous row of A with nb rows
// of a transposed B (vectors along k, two accumulators per row, a masked
// tail, then horizontal sums): the matrix-vector products of batch 1.
`

func main() {
	var goDecl emitter
	goDecl.f("%s", strings.TrimRight(header, "\n"))
	goDecl.f("")
	goDecl.f("package gemm")
	goDecl.f("")
	for _, is := range isas {
		var e emitter
		e.WriteString(header)
		regs := map[string]string{"avx512": "ZMM", "avx2": "YMM"}[is.name]
		e.f(asmDoc, is.name, is.vw, regs, is.accMax)
		e.f(`#include "textflag.h"`)
		e.f("")
		if is.name == "avx2" {
			e.f("DATA iota8<>+0(SB)/8, $0x0000000100000000")
			e.f("DATA iota8<>+8(SB)/8, $0x0000000300000002")
			e.f("DATA iota8<>+16(SB)/8, $0x0000000500000004")
			e.f("DATA iota8<>+24(SB)/8, $0x0000000700000006")
			e.f("GLOBL iota8<>(SB), RODATA|NOPTR, $32")
			e.f("")
			e.WriteString(packT8)
			goDecl.f("//go:noescape")
			goDecl.f("func packT8(n8 int, src *float32, lds int, dst *float32, ldd int)")
			goDecl.f("")
		}
		var table strings.Builder
		fmt.Fprintf(&table, "var %sKernels = [2][2][2][%d]kernelFunc{\n", is.name, is.mrMax+1)
		for ti, t := range []bool{false, true} {
			fmt.Fprintf(&table, "{")
			for nv := 1; nv <= 2; nv++ {
				fmt.Fprintf(&table, "{")
				for _, edge := range []bool{false, true} {
					fmt.Fprintf(&table, "{nil, ")
					for mr := 1; mr <= is.mrMax; mr++ {
						genKernel(&e, is, t, mr, nv, edge)
						n := kernName(is, t, mr, nv, edge)
						goDecl.f("//go:noescape")
						goDecl.f("func %s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, rem int, mode int, beta float32)", n)
						goDecl.f("")
						fmt.Fprintf(&table, "%s, ", n)
					}
					fmt.Fprintf(&table, "},\n")
				}
				fmt.Fprintf(&table, "},\n")
			}
			fmt.Fprintf(&table, "},\n")
			_ = ti
		}
		fmt.Fprintf(&table, "}\n\n")
		fmt.Fprintf(&table, "var %sDots = [5]dotFunc{nil, ", is.name)
		for nb := 1; nb <= 4; nb++ {
			genDot(&e, is, nb)
			n := fmt.Sprintf("d%s%d", is.name, nb)
			goDecl.f("//go:noescape")
			goDecl.f("func %s(k int, a *float32, b *float32, ldb int, c *float32, mode int, beta float32)", n)
			goDecl.f("")
			fmt.Fprintf(&table, "%s, ", n)
		}
		fmt.Fprintf(&table, "}\n\n")
		goDecl.WriteString(table.String())
		if err := os.WriteFile("kernels_"+is.name+"_amd64.s", e.Bytes(), 0o644); err != nil {
			panic(err)
		}
	}
	src, err := format.Source(goDecl.Bytes())
	if err != nil {
		os.WriteFile("kernels_amd64.go", goDecl.Bytes(), 0o644)
		panic(err)
	}
	if err := os.WriteFile("kernels_amd64.go", src, 0o644); err != nil {
		panic(err)
	}
}
