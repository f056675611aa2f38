package vec

import "math"

// The x86 rules that the generated portable kernels (kernels_portable.go)
// spell out, lane by lane, so that they compute what the assembly computes.
// Integer operations act on the float32's bits as an int32.

// maxX is MAXPS: x > y ? x : y, so y when either is NaN or both are zeros.
func maxX(x, y float32) float32 {
	if x > y {
		return x
	}
	return y
}

// cvtX is CVTPS2DQ: x rounded to the nearest integer, ties to even (the
// default rounding mode), as int32 bits; 0x80000000 for NaN and for values
// out of int32's range.
func cvtX(x float32) float32 {
	if !(x >= -(1<<31) && x < 1<<31) {
		return math.Float32frombits(0x80000000)
	}
	return math.Float32frombits(uint32(int32(math.RoundToEven(float64(x)))))
}

func andX(x, y float32) float32 {
	return math.Float32frombits(math.Float32bits(x) & math.Float32bits(y))
}
func orX(x, y float32) float32 {
	return math.Float32frombits(math.Float32bits(x) | math.Float32bits(y))
}
func iaddX(x, y float32) float32 {
	return math.Float32frombits(math.Float32bits(x) + math.Float32bits(y))
}
func isubX(x, y float32) float32 {
	return math.Float32frombits(math.Float32bits(x) - math.Float32bits(y))
}

// srai1X is PSRAD by 1: the int32 halved, rounded toward −∞.
func srai1X(x float32) float32 {
	return math.Float32frombits(uint32(int32(math.Float32bits(x)) >> 1))
}

// slli23X is PSLLD by 23: the int32 moved into the exponent field.
func slli23X(x float32) float32 { return math.Float32frombits(math.Float32bits(x) << 23) }

// blendX is m ? x : y.
func blendX(m bool, x, y float32) float32 {
	if m {
		return x
	}
	return y
}
