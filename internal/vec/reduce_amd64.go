//go:build amd64 && !purego

package vec

// The assembly reductions of reduce_amd64.s: n ≥ 0 elements from x (w and
// v), or a rows × cols matrix z with rows, cols ≥ 1; no alignment needed.

//go:noescape
func sumSqAVX512(x *float32, n int) float64

//go:noescape
func sumSqDistAVX512(w, v *float32, n int) (ww, dd float64)

//go:noescape
func sumSqAVX2(x *float32, n int) float64

//go:noescape
func sumSqDistAVX2(w, v *float32, n int) (ww, dd float64)

//go:noescape
func deadColumnsAVX512(z *float32, rows, cols int, lo, hi float32) int

//go:noescape
func deadColumnsAVX2(z *float32, rows, cols int, lo, hi float32) int

// reduceSet is one instruction set's reductions.
type reduceSet struct {
	sumSq       func(x *float32, n int) float64
	sumSqDist   func(w, v *float32, n int) (ww, dd float64)
	deadColumns func(z *float32, rows, cols int, lo, hi float32) int
}

// reduceSets are the reductions of each asmSet, by its name.
var reduceSets = map[string]reduceSet{
	"avx512": {sumSqAVX512, sumSqDistAVX512, deadColumnsAVX512},
	"avx2":   {sumSqAVX2, sumSqDistAVX2, deadColumnsAVX2},
}
