package threads

import "testing"

// BenchmarkRun is the cost of lending one helper for an empty job.
func BenchmarkRun(b *testing.B) {
	defer SetLimit(SetLimit(2))
	j := &nop{}
	for b.Loop() {
		Run(j, 2)
	}
}
