package optimizers

import "github.com/gradsweep/gradsweep/internal/threads"

// splitElems is the least number of weights worth a thread of their own in
// an update: 524,288, so only a parameter of a million weights or more is
// split. The updates are element-wise passes of a fraction of a nanosecond
// per weight (0.07 ns for SGD, 0.2–0.3 for Adam); alone, Adam's update of
// the reference MLP's 100,352-weight matrix took 11–19 µs on two threads
// against 21–26 µs on one, but inside training a helper that writes half
// of the weights leaves them in its own cache, where the caller's next
// product must fetch them: whole passes of the reference MLP with the
// update split at 32,768 weights ran up to 20% slower on 2 threads than on
// one (bench.BenchmarkSplitThreshold, 2026-11-30).
var splitElems = 1 << 19

// rangeUpdate updates one parameter, split by ranges of its weights over
// the threads package threads lends. Every weight's update reads and writes
// only that weight's elements (and the kernels of internal/vec give the
// same bits in any lane), so the split changes no bit. C is the kernel's
// constants; s holds up to three state slices (nil where unused), each as
// long as the parameter.
type rangeUpdate[C any] struct {
	kernel      func(theta, grad []float32, s [3][]float32, c C)
	theta, grad []float32
	s           [3][]float32
	c           C
}

// Part updates part i of n of the weights (threads.Job).
func (u *rangeUpdate[C]) Part(i, n int) {
	lo, hi := i*len(u.theta)/n, (i+1)*len(u.theta)/n
	var s [3][]float32
	for k, x := range u.s {
		if x != nil {
			s[k] = x[lo:hi]
		}
	}
	u.kernel(u.theta[lo:hi], u.grad[lo:hi], s, u.c)
}

// run applies kernel to theta, grad and s with constants c, in parts when
// theta is large and threads are lent.
func (u *rangeUpdate[C]) run(kernel func(theta, grad []float32, s [3][]float32, c C), theta, grad []float32, s [3][]float32, c C) {
	parts := len(theta) / splitElems
	if parts < 2 {
		kernel(theta, grad, s, c)
		return
	}
	u.kernel, u.theta, u.grad, u.s, u.c = kernel, theta, grad, s, c
	threads.Run(u, parts)
	u.theta, u.grad, u.s = nil, nil, [3][]float32{}
}
