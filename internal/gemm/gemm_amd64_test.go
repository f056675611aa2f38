//go:build amd64 && !purego

package gemm

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// extraImpls adds every kernel set this CPU can run, whichever is selected,
// so the AVX2 kernels are tested on AVX-512 machines too.
func extraImpls() []impl {
	var list []impl
	for _, ks := range []*kernelSet{avx512Set, avx2Set} {
		if ks != nil {
			list = append(list, impl{ks.name, ks.sgemm})
		}
	}
	return list
}

func TestSelection(t *testing.T) {
	want := "portable"
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		want = "avx512"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		want = "avx2"
	}
	if Kernel() != want {
		t.Errorf("Kernel() = %q, want %q", Kernel(), want)
	}
	t.Logf("selected kernel: %s", Kernel())
}

// BenchmarkAVX2 runs the BenchmarkSgemm shapes on the AVX2 kernels, which
// AVX-512 machines do not select.
func BenchmarkAVX2(b *testing.B) {
	if avx2Set == nil {
		b.Skip("no AVX2+FMA")
	}
	benchShapes(b, avx2Set.sgemm)
}

// kernelJobs describes a product as a job of each kernel set this CPU runs.
func kernelJobs() map[string]func(p *problem) *job {
	jobs := map[string]func(p *problem) *job{}
	for _, ks := range []*kernelSet{avx512Set, avx2Set} {
		if ks != nil {
			jobs[ks.name] = func(p *problem) *job {
				j := ks.newJob(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, p.beta, storeMode(p.beta), nil, p.ldc)
				return &j
			}
		}
	}
	return jobs
}
