//go:build amd64 && !purego

// The reductions of reduce.go in AVX-512 and AVX2, written by hand (they are
// not element-wise kernels, so genkernels.go does not make them). Partial sum
// j of reduce.go is lane j of the accumulators: Z0 holds sums 0–7 and Z1
// sums 8–15 (AVX-512), Y0–Y3 hold sums 0–3, 4–7, 8–11 and 12–15 (AVX2). A
// main loop takes 16 elements at a time; the last n mod 16 are loaded
// masked, the other lanes as +0, which leaves every sum unchanged. Then the
// accumulators are folded in reduce.go's tree.

#include "textflag.h"

// tailmask<>+4·(16−r) holds r all-ones words, then zeros (AVX2 tails).
DATA tailmask<>+0(SB)/8, $-1
DATA tailmask<>+8(SB)/8, $-1
DATA tailmask<>+16(SB)/8, $-1
DATA tailmask<>+24(SB)/8, $-1
DATA tailmask<>+32(SB)/8, $-1
DATA tailmask<>+40(SB)/8, $-1
DATA tailmask<>+48(SB)/8, $-1
DATA tailmask<>+56(SB)/8, $-1
DATA tailmask<>+64(SB)/8, $0
DATA tailmask<>+72(SB)/8, $0
DATA tailmask<>+80(SB)/8, $0
DATA tailmask<>+88(SB)/8, $0
DATA tailmask<>+96(SB)/8, $0
DATA tailmask<>+104(SB)/8, $0
DATA tailmask<>+112(SB)/8, $0
DATA tailmask<>+120(SB)/8, $0
GLOBL tailmask<>(SB), RODATA|NOPTR, $128

// FOLD512 folds the partial sums in lo (sums 0–7) and hi (8–15) in
// reduce.go's tree into the low lane of xlo; ylo and xlo are lo's lower
// halves, yhi and xhi hi's. It clobbers lo and hi.
#define FOLD512(lo, hi, ylo, yhi, xlo, xhi) \
	VADDPD hi, lo, lo; \
	VEXTRACTF64X4 $1, lo, yhi; \
	VADDPD yhi, ylo, ylo; \
	VEXTRACTF128 $1, ylo, xhi; \
	VADDPD xhi, xlo, xlo; \
	VUNPCKHPD xlo, xlo, xhi; \
	VADDSD xhi, xlo, xlo

// func sumSqAVX512(x *float32, n int) float64
TEXT ·sumSqAVX512(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPD Z0, Z0, Z0
	VXORPD Z1, Z1, Z1
	CMPQ CX, $16
	JLT tail
loop:
	VCVTPS2PD (SI), Z2
	VCVTPS2PD 32(SI), Z3
	VFMADD231PD Z2, Z2, Z0
	VFMADD231PD Z3, Z3, Z1
	ADDQ $64, SI
	SUBQ $16, CX
	CMPQ CX, $16
	JGE loop
tail:
	TESTQ CX, CX
	JEQ fold
	MOVQ $1, DX
	SHLQ CX, DX
	DECQ DX
	KMOVW DX, K1
	VMOVUPS.Z (SI), K1, Z4
	VCVTPS2PD Y4, Z2
	VEXTRACTF64X4 $1, Z4, Y5
	VCVTPS2PD Y5, Z3
	VFMADD231PD Z2, Z2, Z0
	VFMADD231PD Z3, Z3, Z1
fold:
	FOLD512(Z0, Z1, Y0, Y1, X0, X1)
	VMOVSD X0, ret+16(FP)
	VZEROUPPER
	RET

// func sumSqDistAVX512(w, v *float32, n int) (ww, dd float64)
TEXT ·sumSqDistAVX512(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPD Z0, Z0, Z0
	VXORPD Z1, Z1, Z1
	VXORPD Z2, Z2, Z2
	VXORPD Z3, Z3, Z3
	CMPQ CX, $16
	JLT tail
loop:
	VCVTPS2PD (SI), Z4
	VCVTPS2PD 32(SI), Z5
	VCVTPS2PD (DI), Z6
	VCVTPS2PD 32(DI), Z7
	VSUBPD Z6, Z4, Z6 // d = w − v
	VSUBPD Z7, Z5, Z7
	VFMADD231PD Z4, Z4, Z0
	VFMADD231PD Z5, Z5, Z1
	VMULPD Z6, Z6, Z6 // d², rounded before it is added
	VMULPD Z7, Z7, Z7
	VADDPD Z6, Z2, Z2
	VADDPD Z7, Z3, Z3
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	CMPQ CX, $16
	JGE loop
tail:
	TESTQ CX, CX
	JEQ fold
	MOVQ $1, DX
	SHLQ CX, DX
	DECQ DX
	KMOVW DX, K1
	VMOVUPS.Z (SI), K1, Z8
	VMOVUPS.Z (DI), K1, Z9
	VCVTPS2PD Y8, Z4
	VEXTRACTF64X4 $1, Z8, Y5
	VCVTPS2PD Y5, Z5
	VCVTPS2PD Y9, Z6
	VEXTRACTF64X4 $1, Z9, Y7
	VCVTPS2PD Y7, Z7
	VSUBPD Z6, Z4, Z6
	VSUBPD Z7, Z5, Z7
	VFMADD231PD Z4, Z4, Z0
	VFMADD231PD Z5, Z5, Z1
	VMULPD Z6, Z6, Z6
	VMULPD Z7, Z7, Z7
	VADDPD Z6, Z2, Z2
	VADDPD Z7, Z3, Z3
fold:
	FOLD512(Z0, Z1, Y0, Y1, X0, X1)
	FOLD512(Z2, Z3, Y2, Y3, X2, X3)
	VMOVSD X0, ww+24(FP)
	VMOVSD X2, dd+32(FP)
	VZEROUPPER
	RET

// FOLD256 folds the partial sums in a0–a3 (sums 0–3, 4–7, 8–11, 12–15) in
// reduce.go's tree into the low lane of x0; x0 and x1 are the lower halves
// of a0 and a1. It clobbers a0 and a1.
#define FOLD256(a0, a1, a2, a3, x0, x1) \
	VADDPD a2, a0, a0; \
	VADDPD a3, a1, a1; \
	VADDPD a1, a0, a0; \
	VEXTRACTF128 $1, a0, x1; \
	VADDPD x1, x0, x0; \
	VUNPCKHPD x0, x0, x1; \
	VADDSD x1, x0, x0

// SQ256 adds the squares of the four float64 in y to acc, clobbering y.
#define SQ256(y, acc) \
	VMULPD y, y, y; \
	VADDPD y, acc, acc

// func sumSqAVX2(x *float32, n int) float64
TEXT ·sumSqAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	CMPQ CX, $16
	JLT tail
loop:
	VCVTPS2PD (SI), Y4
	VCVTPS2PD 16(SI), Y5
	VCVTPS2PD 32(SI), Y6
	VCVTPS2PD 48(SI), Y7
	SQ256(Y4, Y0)
	SQ256(Y5, Y1)
	SQ256(Y6, Y2)
	SQ256(Y7, Y3)
	ADDQ $64, SI
	SUBQ $16, CX
	CMPQ CX, $16
	JGE loop
tail:
	TESTQ CX, CX
	JEQ fold
	LEAQ tailmask<>(SB), DX
	MOVQ $16, BX
	SUBQ CX, BX
	LEAQ (DX)(BX*4), DX
	VMOVDQU (DX), X8
	VMOVDQU 16(DX), X9
	VMOVDQU 32(DX), X10
	VMOVDQU 48(DX), X11
	VMASKMOVPS (SI), X8, X4
	VMASKMOVPS 16(SI), X9, X5
	VMASKMOVPS 32(SI), X10, X6
	VMASKMOVPS 48(SI), X11, X7
	VCVTPS2PD X4, Y4
	VCVTPS2PD X5, Y5
	VCVTPS2PD X6, Y6
	VCVTPS2PD X7, Y7
	SQ256(Y4, Y0)
	SQ256(Y5, Y1)
	SQ256(Y6, Y2)
	SQ256(Y7, Y3)
fold:
	FOLD256(Y0, Y1, Y2, Y3, X0, X1)
	VMOVSD X0, ret+16(FP)
	VZEROUPPER
	RET

// DIST256 adds the squares of the four float64 in w to aw and those of
// w − v (each rounded before it is added) to ad, clobbering w and v.
#define DIST256(w, v, aw, ad) \
	VSUBPD v, w, v; \
	VMULPD w, w, w; \
	VADDPD w, aw, aw; \
	VMULPD v, v, v; \
	VADDPD v, ad, ad

// func sumSqDistAVX2(w, v *float32, n int) (ww, dd float64)
TEXT ·sumSqDistAVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	CMPQ CX, $16
	JLT tail
loop:
	VCVTPS2PD (SI), Y8
	VCVTPS2PD (DI), Y9
	VCVTPS2PD 16(SI), Y10
	VCVTPS2PD 16(DI), Y11
	VCVTPS2PD 32(SI), Y12
	VCVTPS2PD 32(DI), Y13
	VCVTPS2PD 48(SI), Y14
	VCVTPS2PD 48(DI), Y15
	DIST256(Y8, Y9, Y0, Y4)
	DIST256(Y10, Y11, Y1, Y5)
	DIST256(Y12, Y13, Y2, Y6)
	DIST256(Y14, Y15, Y3, Y7)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	CMPQ CX, $16
	JGE loop
tail:
	TESTQ CX, CX
	JEQ fold
	LEAQ tailmask<>(SB), DX
	MOVQ $16, BX
	SUBQ CX, BX
	LEAQ (DX)(BX*4), DX
	VMOVDQU (DX), X15
	VMASKMOVPS (SI), X15, X8
	VMASKMOVPS (DI), X15, X9
	VMOVDQU 16(DX), X15
	VMASKMOVPS 16(SI), X15, X10
	VMASKMOVPS 16(DI), X15, X11
	VMOVDQU 32(DX), X15
	VMASKMOVPS 32(SI), X15, X12
	VMASKMOVPS 32(DI), X15, X13
	VMOVDQU 48(DX), X15
	VMASKMOVPS 48(SI), X15, X14
	VMASKMOVPS 48(DI), X15, X15
	VCVTPS2PD X8, Y8
	VCVTPS2PD X9, Y9
	VCVTPS2PD X10, Y10
	VCVTPS2PD X11, Y11
	VCVTPS2PD X12, Y12
	VCVTPS2PD X13, Y13
	VCVTPS2PD X14, Y14
	VCVTPS2PD X15, Y15
	DIST256(Y8, Y9, Y0, Y4)
	DIST256(Y10, Y11, Y1, Y5)
	DIST256(Y12, Y13, Y2, Y6)
	DIST256(Y14, Y15, Y3, Y7)
fold:
	FOLD256(Y0, Y1, Y2, Y3, X0, X1)
	FOLD256(Y4, Y5, Y6, Y7, X4, X5)
	VMOVSD X0, ww+24(FP)
	VMOVSD X4, dd+32(FP)
	VZEROUPPER
	RET

// The dead-column count scans 16 (AVX-512) or 8 (AVX2) columns at a time
// down the rows, OR-ing into a mask the lanes whose element is inside
// (lo, hi]: !(z ≤ lo) and !(z > hi), both true for NaN (the unordered
// predicates NLE_UQ and NGT_UQ). A chunk stops as soon as every column of
// it has been seen inside; its dead columns are those never seen. The
// columns past cols in the last chunk are loaded masked and not counted.

// func deadColumnsAVX512(z *float32, rows, cols int, lo, hi float32) int
TEXT ·deadColumnsAVX512(SB), NOSPLIT, $0-40
	MOVQ z+0(FP), SI
	MOVQ rows+8(FP), R8
	MOVQ cols+16(FP), R9
	VBROADCASTSS lo+24(FP), Z1
	VBROADCASTSS hi+28(FP), Z2
	XORQ AX, AX // dead columns
	MOVQ R9, R10
	SHLQ $2, R10 // the row stride in bytes
	XORQ R11, R11 // the chunk's first column
chunk:
	CMPQ R11, R9
	JGE done
	MOVQ R9, CX
	SUBQ R11, CX // columns left
	MOVL $0xffff, BX
	CMPQ CX, $16
	JGE full
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
full:
	KMOVW BX, K1 // the chunk's columns
	KXORW K2, K2, K2 // the columns seen inside
	LEAQ (SI)(R11*4), DI
	MOVQ R8, DX // rows left
row:
	VMOVUPS.Z (DI), K1, Z0
	VCMPPS $0x16, Z1, Z0, K1, K3 // !(z ≤ lo)
	VCMPPS $0x1a, Z2, Z0, K3, K3 // and !(z > hi)
	KORW K3, K2, K2
	ADDQ R10, DI
	DECQ DX
	JEQ count
	KXORW K1, K2, K4
	KORTESTW K4, K4
	JNE row // some column not seen inside yet
count:
	KANDNW K1, K2, K4 // never seen inside
	KMOVW K4, BX
	POPCNTL BX, BX
	ADDQ BX, AX
	ADDQ $16, R11
	JMP chunk
done:
	MOVQ AX, ret+32(FP)
	VZEROUPPER
	RET

// func deadColumnsAVX2(z *float32, rows, cols int, lo, hi float32) int
TEXT ·deadColumnsAVX2(SB), NOSPLIT, $0-40
	MOVQ z+0(FP), SI
	MOVQ rows+8(FP), R8
	MOVQ cols+16(FP), R9
	VBROADCASTSS lo+24(FP), Y1
	VBROADCASTSS hi+28(FP), Y2
	XORQ AX, AX // dead columns
	MOVQ R9, R10
	SHLQ $2, R10 // the row stride in bytes
	XORQ R11, R11 // the chunk's first column
	LEAQ tailmask<>(SB), R13
chunk:
	CMPQ R11, R9
	JGE done
	MOVQ R9, CX
	SUBQ R11, CX // columns left
	MOVL $0xff, BX
	VPCMPEQD Y3, Y3, Y3 // load every lane
	CMPQ CX, $8
	JGE full
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
	MOVQ $16, DX
	SUBQ CX, DX
	VMOVDQU (R13)(DX*4), Y3 // load the first CX lanes
full:
	VXORPS Y4, Y4, Y4 // the columns seen inside
	LEAQ (SI)(R11*4), DI
	MOVQ R8, DX // rows left
row:
	VMASKMOVPS (DI), Y3, Y0
	VCMPPS $0x16, Y1, Y0, Y5 // !(z ≤ lo)
	VCMPPS $0x1a, Y2, Y0, Y6 // !(z > hi)
	VANDPS Y6, Y5, Y5
	VORPS Y5, Y4, Y4
	ADDQ R10, DI
	DECQ DX
	JEQ count
	VMOVMSKPS Y4, R12
	ANDL BX, R12
	CMPL R12, BX
	JNE row // some column not seen inside yet
count:
	VMOVMSKPS Y4, R12
	NOTL R12
	ANDL BX, R12 // never seen inside
	POPCNTL R12, R12
	ADDQ R12, AX
	ADDQ $8, R11
	JMP chunk
done:
	MOVQ AX, ret+32(FP)
	VZEROUPPER
	RET
