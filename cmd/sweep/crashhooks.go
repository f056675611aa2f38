//go:build sweepcrash

package main

import (
	"fmt"
	"os"
	"time"
)

// Test-only commands and hooks, compiled in with -tags sweepcrash: they
// let the tests crash the real binary in each way a bug could, and hold
// 'run' while it loads.
func init() {
	commands = append(commands,
		command{"crash-panic", "", "panic in the command (test build only)", func(*env, []string) error {
			var m map[string]int
			m["x"]++ // assignment to entry in nil map
			return nil
		}},
		command{"crash-goroutine", "", "panic on another goroutine (test build only)", func(*env, []string) error {
			go func() { panic("boom on a goroutine") }()
			time.Sleep(10 * time.Second)
			return nil
		}},
		command{"crash-oom", "", "runtime fatal error: out of memory (test build only)", func(e *env, _ []string) error {
			b := make([]byte, 1<<46) // 64 TiB: more than any test machine can map
			b[len(b)-1] = 1
			fmt.Fprintln(e.stdout, b[0])
			return nil
		}},
	)
	beforeLoad = func(e *env) {
		if d, err := time.ParseDuration(os.Getenv("SWEEP_TEST_LOAD_DELAY")); err == nil {
			fmt.Fprintln(e.stderr, "sweep: test: loading")
			time.Sleep(d)
		}
	}
}
