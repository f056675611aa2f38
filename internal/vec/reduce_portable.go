package vec

// The portable reductions: the reference that the assembly reproduces bit
// for bit (see reduce.go for the order of the additions).

func sumSqGo(x []float32) float64 {
	var s [16]float64
	for i, x := range x {
		f := float64(x)
		s[i&15] += f * f // exact product: fusing it changes nothing
	}
	return fold16(&s)
}

func sumSqDistGo(w, v []float32) (ww, dd float64) {
	v = v[:len(w)]
	var sw, sd [16]float64
	for i, x := range w {
		f := float64(x)
		d := f - float64(v[i])
		sw[i&15] += f * f
		sd[i&15] += float64(d * d) // the conversion forbids fusing: d² is rounded first
	}
	return fold16(&sw), fold16(&sd)
}

// fold16 adds up 16 partial sums in the tree of reduce.go.
func fold16(s *[16]float64) float64 {
	var t [8]float64
	for j := range 8 {
		t[j] = s[j] + s[j+8]
	}
	for j := range 4 {
		t[j] += t[j+4]
	}
	for j := range 2 {
		t[j] += t[j+2]
	}
	return t[0] + t[1]
}

// deadColumnsGo scans each column until an element is inside (lo, hi].
func deadColumnsGo(z []float32, rows, cols int, lo, hi float32) int {
	z = z[:rows*cols]
	dead := 0
	for j := range cols {
		all := true
		for i := j; i < len(z); i += cols {
			if v := z[i]; !(v <= lo || v > hi) {
				all = false
				break
			}
		}
		if all {
			dead++
		}
	}
	return dead
}
