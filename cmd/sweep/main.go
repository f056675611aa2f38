// Command sweep runs neural-network training experiments: it trains every
// combination of learning rate, batch size, epochs and optimizer that an
// experiment file describes, keeps every number in SQLite, and answers
// which setting gives good results for little time.
package main

import (
	"context"
	"os"
	"runtime/debug"
)

func main() {
	// A crash the command cannot recover (a runtime fatal error such as
	// out of memory, or a panic on another goroutine) aborts with SIGABRT
	// instead of Go's default exit status 2, which is the code for input
	// the user can fix. Panics of the command itself become exit 1 (run).
	debug.SetTraceback("crash")
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
