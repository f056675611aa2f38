//go:build race

package gemm

// sync.Pool drops items at random under the race detector.
const raceEnabled = true
