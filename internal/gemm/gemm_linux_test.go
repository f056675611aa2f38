//go:build linux

package gemm

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns a slice of n floats that ends right before an inaccessible
// page, so that reading or writing one element past its end faults.
func guarded(t *testing.T, n int) []float32 {
	page := syscall.Getpagesize()
	size := (n*4+page-1)/page*page + page
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[size-page:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[size-page-4*n])), n)
}

// TestGuardPages runs the kernels on operands that end at a guard page: edge
// tiles must not touch memory past the last element of A, B or C.
func TestGuardPages(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	shapes := [][3]int{{1, 1, 1}, {1, 10, 64}, {1, 70, 33}, {3, 17, 29}, {5, 13, 7}, {13, 33, 9}, {7, 47, 100}, {25, 3, 300}, {40, 1030, 20}, {30, 50, 515}}
	for i, s := range shapes {
		for combo := range 4 {
			p := newProblem(rng, combo&1 != 0, combo&2 != 0, s[0], s[1], s[2], 0, 0, 0, betas[(i+combo)%3])
			if s[1] == 1030 {
				// ldb 1536 (a multiple of 512) when op(B) = B.
				p = newProblem(rng, combo&1 != 0, combo&2 != 0, s[0], s[1], s[2], 0, 1536-s[1], 0, betas[(i+combo)%3])
			}
			ga, gb := guarded(t, len(p.a)), guarded(t, len(p.b))
			copy(ga, p.a)
			copy(gb, p.b)
			p.a, p.b = ga, gb
			p.alloc = func(n int) []float32 { return guarded(t, n) }
			p.checkAll(t)
		}
	}
}
