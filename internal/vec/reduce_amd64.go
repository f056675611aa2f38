//go:build amd64 && !purego

package vec

// The assembly reductions of reduce_amd64.s: n ≥ 0 elements from x (w and
// v), no alignment needed.

//go:noescape
func sumSqAVX512(x *float32, n int) float64

//go:noescape
func sumSqDistAVX512(w, v *float32, n int) (ww, dd float64)

//go:noescape
func sumSqAVX2(x *float32, n int) float64

//go:noescape
func sumSqDistAVX2(w, v *float32, n int) (ww, dd float64)

// reduceSet is one instruction set's reductions.
type reduceSet struct {
	sumSq     func(x *float32, n int) float64
	sumSqDist func(w, v *float32, n int) (ww, dd float64)
}

// reduceSets are the reductions of each asmSet, by its name.
var reduceSets = map[string]reduceSet{
	"avx512": {sumSqAVX512, sumSqDistAVX512},
	"avx2":   {sumSqAVX2, sumSqDistAVX2},
}
