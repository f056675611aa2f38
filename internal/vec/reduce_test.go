package vec

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

//go:noinline
func add64(a, b float64) float64 { return a + b }

//go:noinline
func mul64(a, b float64) float64 { return a * b }

// refSums transcribes reduce.go's order: term i into partial sum i mod 16,
// in increasing i, then the fixed tree, one rounded operation per call.
func refSums(n int, term func(i int) float64) float64 {
	var s [16]float64
	for i := range n {
		s[i%16] = add64(s[i%16], term(i))
	}
	var t [8]float64
	for j := range 8 {
		t[j] = add64(s[j], s[j+8])
	}
	var u [4]float64
	for j := range 4 {
		u[j] = add64(t[j], t[j+4])
	}
	return add64(add64(u[0], u[2]), add64(u[1], u[3]))
}

func refSumSq(x []float32) float64 {
	return refSums(len(x), func(i int) float64 { return mul64(float64(x[i]), float64(x[i])) })
}

func refSumSqDist(w, v []float32) (float64, float64) {
	d := func(i int) float64 { return float64(w[i]) - float64(v[i]) }
	return refSumSq(w), refSums(len(w), func(i int) float64 { return mul64(d(i), d(i)) })
}

// exactSum is Σ term(i)² computed exactly, rounded to float64 once.
func exactSum(n int, term func(i int) float64) float64 {
	s := new(big.Float).SetPrec(4096)
	for i := range n {
		x := new(big.Float).SetPrec(4096).SetFloat64(term(i))
		s.Add(s, x.Mul(x, x))
	}
	f, _ := s.Float64()
	return f
}

func same64(x, y float64) bool {
	return math.Float64bits(x) == math.Float64bits(y) || x != x && y != y // any NaN matches any NaN
}

// Every implementation gives the bits of reduce.go's order on every length
// (the masked tails included) and on values from subnormal to large, and
// that order is within the float64 error bound of the exact sums.
func TestReductionsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, im := range impls(t) {
		use(t, im)
		for _, n := range lengths {
			w, v := make([]float32, n), make([]float32, n)
			for i := range w {
				w[i] = value(r)
				v[i] = w[i] + float32(r.NormFloat64())*1e-3*w[i] // a small update of w
			}
			ww, dd := SumSquaresDistance(w, v)
			rw, rd := refSumSqDist(w, v)
			if ss := SumSquares(w); !same64(ss, rw) {
				t.Fatalf("%s SumSquares n=%d = %v (%#x), want %v (%#x)", im.name, n, ss, math.Float64bits(ss), rw, math.Float64bits(rw))
			}
			if !same64(ww, rw) || !same64(dd, rd) {
				t.Fatalf("%s SumSquaresDistance n=%d = %v, %v; want %v, %v", im.name, n, ww, dd, rw, rd)
			}
			// All terms are ≥ 0, so the rounding error of any order of
			// n additions is below n·2⁻⁵³ of the exact sum (plus
			// the rounding of each d²).
			ew := exactSum(n, func(i int) float64 { return float64(w[i]) })
			ed := exactSum(n, func(i int) float64 { return float64(w[i]) - float64(v[i]) })
			for _, c := range [][2]float64{{ww, ew}, {dd, ed}} {
				if math.Abs(c[0]-c[1]) > float64(n+1)*0x1p-53*c[1] {
					t.Fatalf("%s n=%d: sum %v, exact %v", im.name, n, c[0], c[1])
				}
			}
		}
	}
}

// The reductions read nothing past n: NaN guards after the slices change
// no sum.
func TestReductionsLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, im := range impls(t) {
		use(t, im)
		for _, n := range lengths {
			wb, vb := make([]float32, n+16), make([]float32, n+16)
			for i := range wb {
				wb[i], vb[i] = float32(math.NaN()), float32(math.NaN())
			}
			for i := range n {
				wb[i], vb[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
			}
			w, v := wb[:n], vb[:n]
			ww, dd := SumSquaresDistance(w, vb) // v longer than w: its first n count
			rw, rd := refSumSqDist(w, v)
			if ss := SumSquares(w); math.IsNaN(ss) || !same64(ss, rw) {
				t.Fatalf("%s SumSquares n=%d = %v, want %v", im.name, n, ss, rw)
			}
			if math.IsNaN(ww) || math.IsNaN(dd) || !same64(ww, rw) || !same64(dd, rd) {
				t.Fatalf("%s SumSquaresDistance n=%d = %v, %v; want %v, %v", im.name, n, ww, dd, rw, rd)
			}
		}
	}
}

// An infinite element makes a sum +Inf and a NaN makes it NaN, wherever it
// is (main loop or tail); ∞ − ∞ makes the distance NaN; nothing empty sums
// to anything but 0.
func TestReductionsSpecialValues(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	for _, im := range impls(t) {
		use(t, im)
		if SumSquares(nil) != 0 {
			t.Fatalf("%s: SumSquares(nil) = %v", im.name, SumSquares(nil))
		}
		if ww, dd := SumSquaresDistance(nil, nil); ww != 0 || dd != 0 {
			t.Fatalf("%s: SumSquaresDistance(nil, nil) = %v, %v", im.name, ww, dd)
		}
		for _, n := range []int{1, 15, 16, 17, 37} {
			for _, at := range []int{0, n / 2, n - 1} {
				for _, c := range []struct {
					w, v       float32
					ww, dd, ss float64
				}{
					{inf, 0, math.Inf(1), math.Inf(1), math.Inf(1)},
					{-inf, 0, math.Inf(1), math.Inf(1), math.Inf(1)},
					{inf, inf, math.Inf(1), math.NaN(), math.Inf(1)},
					{1, -inf, 1, math.Inf(1), 1},
					{nan, 1, math.NaN(), math.NaN(), math.NaN()},
					{1, nan, 1, math.NaN(), 1},
				} {
					w, v := make([]float32, n), make([]float32, n)
					w[at], v[at] = c.w, c.v
					ww, dd := SumSquaresDistance(w, v)
					if ss := SumSquares(w); !same64(ss, c.ss) || !same64(ww, c.ww) || !same64(dd, c.dd) {
						t.Errorf("%s n=%d w[%d]=%v v[%d]=%v: %v and %v, %v; want %v and %v, %v",
							im.name, n, at, c.w, at, c.v, ss, ww, dd, c.ss, c.ww, c.dd)
					}
				}
			}
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: SumSquaresDistance with a short v did not panic", im.name)
				}
			}()
			SumSquaresDistance(make([]float32, 3), make([]float32, 2))
		}()
	}
}

// refDeadColumns transcribes DeadColumns' definition: every element of the
// column is ≤ lo or > hi.
func refDeadColumns(z []float32, rows, cols int, lo, hi float32) int {
	dead := 0
	for j := range cols {
		n := 0
		for i := range rows {
			if v := z[i*cols+j]; v <= lo || v > hi {
				n++
			}
		}
		if n == rows {
			dead++
		}
	}
	return dead
}

// Every implementation counts the dead columns of the definition, on
// shapes through the column tails of both vector widths, from no column
// alive to all, with NaN (alive), ±Inf, ±0 and values on and next to the
// bounds; columns alive in only their last row (no early stop) included.
func TestDeadColumns(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	inf := float32(math.Inf(1))
	ranges := [][2]float32{{0, inf}, {math.Nextafter32(-2, -inf), 2}, {math.Nextafter32(-4, -inf), 4}}
	for _, im := range impls(t) {
		use(t, im)
		for _, rg := range ranges {
			lo, hi := rg[0], rg[1]
			inside := []float32{math.Nextafter32(lo, inf), 1, hi, float32(math.NaN()), 0.5}
			outside := []float32{lo, math.Nextafter32(lo, -inf), -inf, -10}
			if hi != inf {
				inside = append(inside, 0, float32(math.Copysign(0, -1)))
				outside = append(outside, math.Nextafter32(hi, inf), inf, 10)
			}
			for _, rows := range []int{1, 2, 3, 32, 33} {
				for _, cols := range []int{1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 64, 70} {
					for _, pInside := range []float64{0, 0.02, 0.3, 1} {
						z := make([]float32, rows*cols+17)
						for i := range z {
							z[i] = float32(math.NaN()) // past the matrix: must not count
						}
						for i := range rows * cols {
							if r.Float64() < pInside {
								z[i] = inside[r.IntN(len(inside))]
							} else {
								z[i] = outside[r.IntN(len(outside))]
							}
						}
						if rows > 1 && r.IntN(2) == 0 { // a column alive only in the last row
							z[(rows-1)*cols+r.IntN(cols)] = inside[0]
						}
						want := refDeadColumns(z, rows, cols, lo, hi)
						if got := DeadColumns(z, rows, cols, lo, hi); got != want {
							t.Fatalf("%s (%v, %v] %dx%d p %v: %d dead, want %d", im.name, lo, hi, rows, cols, pInside, got, want)
						}
					}
				}
			}
		}
		if DeadColumns(nil, 0, 5, 0, inf) != 5 || DeadColumns(nil, 3, 0, 0, inf) != 0 {
			t.Errorf("%s: empty shapes", im.name)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: DeadColumns of a short z did not panic", im.name)
				}
			}()
			DeadColumns(make([]float32, 5), 2, 3, 0, inf)
		}()
	}
}
