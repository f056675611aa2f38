//go:build race

package framework_test

// Under the race detector the instrumentation allocates and sync.Pool
// drops items at random: the tests that count allocations skip.
const raceEnabled = true
