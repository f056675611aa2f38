//go:build amd64 && !purego

// Blocking scheme of the amd64 kernels
//
// C is computed in register tiles of mr rows × nr columns, nr being one or
// two vectors (16 floats per ZMM vector with AVX-512, 8 per YMM with AVX2):
// up to 12×32 with AVX-512 (24 of the 32 ZMM registers hold C, two hold a row
// of op(B), and op(A) is read with embedded-broadcast FMAs) and up to 6×16
// with AVX2+FMA (12 YMM accumulators, two B vectors, one broadcast). A
// micro-kernel (kernels_*_amd64.s, written by genkernels.go) runs the whole k
// block of one tile as rank-1 updates and then stores, adds or beta-scales
// into C once. Tiles with fewer than eight accumulators keep 2 or 4
// accumulator sets so that at least eight FMA chains are in flight; the
// right-hand edge tile masks its last vector (AVX-512 opmask, VMASKMOVPS).
//
// Operands are read in place whenever their layout allows:
//   - op(B) = B (row-major k×n): the rows of a k×nr panel are contiguous and
//     are loaded straight from B (even with a power-of-two ldb, the hardware
//     prefetcher streams them from L2 faster than a copy would);
//   - op(A) = A (row-major m×k) or Aᵀ (stored k×m): the kernels address the
//     mr broadcast elements directly in either layout (the N and T kernels).
//
// Packing, into buffers from a sync.Pool (no allocation in steady state,
// safe for concurrent callers), is used only where it pays:
//   - op(B) = Bᵀ: each k block × nr panel is transposed into a contiguous
//     panel with an 8×8 AVX transpose (packT8);
//   - op(A) = A with lda a multiple of 512 floats (the mr rows read at once,
//     2 KiB apart, would share L1 sets), given enough reuse: the row blocks of
//     a k block are packed k-major (with packT8) and read by the T kernels.
//
// Loop order: k blocks of at most kcBlock, split evenly (C is loaded and
// stored once per k block); then, when A is packed, chunks of at most
// mcBlock rows (bounding the buffer); then nr-wide column panels of C (the
// k-block × nr panel of B stays in L1/L2 while it is reused); then row
// blocks, m being split evenly into blocks of at most mr rows.
//
// Products of at least minPartFlops per part are split over lent threads
// (package threads) by ranges of whole row blocks or whole column panels of
// the one-thread call (kernelSet.part), so every tile, and every element's
// order of summation, is the one of the one-thread call.
//
// Small shapes never touch the pool and start no goroutine: with m ≤ 4 and
// op(B) = Bᵀ (the batch-1 forward pass), C is computed by dot kernels, four
// rows of B at a time with vectors running along k; the other batch-1 forms
// are 1-row tiles (op(B) = B) or k = 1 tiles (the outer product of dW).

package gemm

//go:generate go run genkernels.go

import (
	"sync"

	"golang.org/x/sys/cpu"
)

type kernelFunc func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, rem int, mode int, beta float32)

type dotFunc func(k int, a *float32, b *float32, ldb int, c *float32, mode int, beta float32)

// kernelSet is one instruction set's kernels.
type kernelSet struct {
	name string
	vw   int // floats per vector
	mr   int // maximum tile height
	// kern[layoutT][nv-1][edge][mr]
	kern [2][2][2][]kernelFunc
	dot  [5]dotFunc
}

var avx512Set, avx2Set *kernelSet

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		avx2Set = newSet("avx2", 8, func(t, nv, e int) []kernelFunc { return avx2Kernels[t][nv][e][:] }, avx2Dots)
		if cpu.X86.HasAVX512F {
			avx512Set = newSet("avx512", 16, func(t, nv, e int) []kernelFunc { return avx512Kernels[t][nv][e][:] }, avx512Dots)
		}
	}
	for _, ks := range []*kernelSet{avx512Set, avx2Set} {
		if ks != nil {
			sgemm, kernelName = ks.sgemm, ks.name
			break
		}
	}
}

func newSet(name string, vw int, kern func(t, nv, e int) []kernelFunc, dots [5]dotFunc) *kernelSet {
	ks := &kernelSet{name: name, vw: vw, dot: dots}
	for t := range 2 {
		for nv := range 2 {
			for e := range 2 {
				ks.kern[t][nv][e] = kern(t, nv, e)
			}
		}
	}
	ks.mr = len(ks.kern[0][0][0]) - 1
	return ks
}

// kcBlock is the depth of a k block.
const kcBlock = 320

// mcBlock bounds the rows of A packed at once (the packed buffer).
const mcBlock = 2048

// aliased reports whether rows ld floats apart fall in few L1 sets.
func aliased(ld int) bool { return ld%512 == 0 }

type scratch struct{ a, b []float32 }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func (ks *kernelSet) sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !shapeOK(transA, transB, m, n, k, a, lda, b, ldb, c, ldc) {
		Portable(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	mode := storeMode(beta)
	if transB && (!transA || m == 1 && lda == 1) && m <= 4 {
		ks.dotRows(m, n, k, a, lda, b, ldb, beta, mode, c, ldc)
		return
	}
	jb := ks.newJob(transA, transB, m, n, k, a, lda, b, ldb, beta, mode, c, ldc)
	if parts := splitParts(m, n, k, max(jb.nBlocks, jb.panels)); parts > 1 {
		runJob(jb, parts)
		return
	}
	ks.blocked(transA, transB, m, n, k, a, lda, b, ldb, beta, mode, c, ldc, jb.packA, 0, jb.nBlocks, 0, n)
}

// newJob describes a blocked product for splitting: its row blocks, its
// column panels and whether A is packed.
func (ks *kernelSet) newJob(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, mode int, c []float32, ldc int) job {
	nrFull := 2 * ks.vw
	return job{ks: ks, transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
		beta: beta, c: c, ldc: ldc, mode: mode,
		packA:   !transA && aliased(lda) && n > 2*nrFull && k > 16,
		nBlocks: ceilDiv(m, ks.mr), panels: ceilDiv(n, nrFull)}
}

// storeMode is the kernels' way of storing into C for beta: 0 overwrites,
// 1 adds, 2 scales C by beta first.
func storeMode(beta float32) int {
	switch beta {
	case 0:
		return 0
	case 1:
		return 1
	}
	return 2
}

func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		ci := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(ci)
			continue
		}
		for j := range ci {
			ci[j] *= beta
		}
	}
}

// dotRows computes each C element as a dot product of a row of A with a row
// of the stored (transposed) B.
func (ks *kernelSet) dotRows(m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, mode int, c []float32, ldc int) {
	for i := range m {
		ai := &a[i*lda]
		j := 0
		for ; j+4 <= n; j += 4 {
			ks.dot[4](k, ai, &b[j*ldb], ldb, &c[i*ldc+j], mode, beta)
		}
		if j < n {
			ks.dot[n-j](k, ai, &b[j*ldb], ldb, &c[i*ldc+j], mode, beta)
		}
	}
}

// packCost is the cost of packing one element of an operand, in FMAs of
// the kernels (16 per instruction with AVX-512): a rough weight, used only
// to choose the direction of a split.
const packCost = 4

// part computes part i of n of the product: a range of whole row blocks, or
// a range of whole nr-wide column panels, whichever costs the busiest part
// less (a split by rows packs all of a transposed B in every part, a split
// by columns all of a packed A). The tiles are those of the one-thread call
// (same heights, same widths, same k blocks, same kernels), so every
// element is summed in the same order and the result is bit-identical
// whatever n.
func (ks *kernelSet) part(j *job, i, n int) {
	nrFull := 2 * ks.vw
	rowCost := ceilDiv(j.nBlocks, n) * ceilDiv(j.m, j.nBlocks) * j.n
	colCost := ceilDiv(j.panels, n) * nrFull * j.m
	if j.transB {
		rowCost += packCost * j.n
	}
	if j.packA {
		colCost += packCost * j.m
	}
	if rowCost <= colCost {
		ks.blocked(j.transA, j.transB, j.m, j.n, j.k, j.a, j.lda, j.b, j.ldb, j.beta, j.mode, j.c, j.ldc,
			j.packA, i*j.nBlocks/n, (i+1)*j.nBlocks/n, 0, j.n)
		return
	}
	ks.blocked(j.transA, j.transB, j.m, j.n, j.k, j.a, j.lda, j.b, j.ldb, j.beta, j.mode, j.c, j.ldc,
		j.packA, 0, j.nBlocks, i*j.panels/n*nrFull, min(j.n, (i+1)*j.panels/n*nrFull))
}

// blocked computes the row blocks blk0 ≤ blk < blk1 (of the m rows split
// evenly into blocks of at most mr rows) and the columns jc0 ≤ j < jc1 (jc0
// a multiple of the panel width) of C. Whether A is packed is decided by
// the caller for the whole product, so that every part runs the same
// kernels.
func (ks *kernelSet) blocked(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, mode int, c []float32, ldc int,
	packA bool, blk0, blk1, jc0, jc1 int) {
	vw, mrMax := ks.vw, ks.mr
	nrFull := 2 * vw
	nBlocks := (m + mrMax - 1) / mrMax
	chunk := max(1, mcBlock/mrMax) // row blocks packed at once
	// k blocks of at most kcBlock, split evenly (784 = 3×262, not 3×256+16).
	kc := (k + (k+kcBlock-1)/kcBlock - 1) / ((k + kcBlock - 1) / kcBlock)
	var s *scratch
	if packA || transB {
		s = scratchPool.Get().(*scratch)
		defer scratchPool.Put(s)
		if packA {
			s.a = grow(s.a, min(chunk, blk1-blk0)*mrMax*kc)
		}
		if transB {
			s.b = grow(s.b, kc*nrFull)
		}
	}
	layout := 0
	if transA || packA {
		layout = 1
	}
	for pc := 0; pc < k; pc += kc {
		kcur := min(kc, k-pc)
		md := mode
		if pc > 0 {
			md = 1
		}
		for b0 := blk0; b0 < blk1; b0 += chunk {
			b1 := min(blk1, b0+chunk)
			r0 := blockStart(m, nBlocks, b0)
			if packA {
				for blk := b0; blk < b1; blk++ {
					i0, mr := blockStart(m, nBlocks, blk), blockRows(m, nBlocks, blk)
					packRows(s.a[(i0-r0)*kcur:], mr, a[i0*lda+pc:], lda, mr, kcur)
				}
			}
			for jc := jc0; jc < jc1; jc += nrFull {
				nr := min(nrFull, jc1-jc)
				nv := (nr + vw - 1) / vw
				rem := nr - (nv-1)*vw
				edge := 0
				if rem != vw {
					edge = 1
				}
				bp, ldbp := (*float32)(nil), ldb
				switch {
				case transB:
					packRows(s.b, nr, b[jc*ldb+pc:], ldb, nv*vw, kcur)
					bp, ldbp = &s.b[0], nv*vw
				default:
					bp = &b[pc*ldb+jc]
				}
				kt := ks.kern[layout][nv-1][edge]
				for blk := b0; blk < b1; blk++ {
					i0, mr := blockStart(m, nBlocks, blk), blockRows(m, nBlocks, blk)
					var ap *float32
					ldap := lda
					switch {
					case packA:
						ap, ldap = &s.a[(i0-r0)*kcur], mr
					case transA:
						ap = &a[pc*lda+i0]
					default:
						ap = &a[i0*lda+pc]
					}
					kt[mr](kcur, ap, ldap, bp, ldbp, &c[i0*ldc+jc], ldc, rem, md, beta)
				}
			}
		}
	}
}

// blockStart is the first row of row block blk when m rows are split evenly
// into nBlocks blocks.
func blockStart(m, nBlocks, blk int) int {
	return blk*(m/nBlocks) + min(blk, m%nBlocks)
}

// blockRows is the height of row block blk when m rows are split evenly
// into nBlocks blocks.
func blockRows(m, nBlocks, blk int) int {
	r := m / nBlocks
	if blk < m%nBlocks {
		r++
	}
	return r
}

// packRows transposes rows × kc elements of src (row stride lds) into dst
// with row stride ldd: dst[p*ldd+r] = src[r*lds+p].
func packRows(dst []float32, rows int, src []float32, lds, ldd, kc int) {
	_ = dst[(kc-1)*ldd+rows-1]
	_ = src[(rows-1)*lds+kc-1]
	k8 := kc / 8
	r := 0
	for ; r+8 <= rows; r += 8 {
		if k8 > 0 {
			packT8(k8, &src[r*lds], lds, &dst[r], ldd)
		}
		for rr := r; rr < r+8; rr++ {
			sr := src[rr*lds : rr*lds+kc]
			for p := 8 * k8; p < kc; p++ {
				dst[p*ldd+rr] = sr[p]
			}
		}
	}
	for ; r < rows; r++ {
		sr := src[r*lds : r*lds+kc]
		for p, v := range sr {
			dst[p*ldd+r] = v
		}
	}
}
