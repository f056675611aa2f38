package bench

import (
	"fmt"
	"testing"

	"github.com/gradsweep/gradsweep/internal/gemm"
	"github.com/gradsweep/gradsweep/internal/threads"
)

// BenchmarkSplitThreshold measures whole training passes with the second
// core lent at several split thresholds (the least flops per part of a
// split product), against one thread, on the reference and a wide MLP:
// the measurement behind gemm's threshold. A product's split pays alone
// long before it pays inside training, where the weights and activations
// sit in the caller's cache: go test ./bench -bench SplitThreshold -cpu 2.
func BenchmarkSplitThreshold(b *testing.B) {
	for _, arch := range []string{"784,128,64,10", "784,1024,1024,10"} {
		for _, batch := range []int{32, 256} {
			for _, th := range []struct {
				threads, flops int
			}{{1, 0}, {2, 1 << 20}, {2, 16 << 20}, {2, 0}} {
				name := fmt.Sprintf("%s/b%d/t%d", arch, batch, th.threads)
				if th.flops > 0 {
					name += fmt.Sprintf("/min%dMF", th.flops>>20)
				}
				b.Run(name, func(b *testing.B) {
					defer threads.SetLimit(threads.SetLimit(th.threads))
					if th.flops > 0 { // else gemm's own threshold
						defer gemm.SetSplitThreshold(gemm.SetSplitThreshold(th.flops))
					}
					timePasses(b, Options{Batch: batch, Arch: arch}, batch*16)
				})
			}
		}
	}
}
